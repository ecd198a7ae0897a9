"""What every live source shares, whatever its transport: a rate limit, retries with exponential backoff,
and an on-disk JSON cache of good answers so a re-run does not download again."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from portfolio_dagster.resources.sources.errors import SourceError

T = TypeVar("T")


class Retry(Exception):
    """Raised by an attempt that may succeed later (429, 5xx, a timeout); `problem` is said if none does."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class Throttle:
    """One provider's limiter, retry loop and cache. Cache keys are public request fields only (callers
    leave secrets out), so keys never reach the disk."""

    def __init__(
        self,
        provider: str,
        cache_dir: Path | None,
        requests_per_minute: float,
        max_retries: int = 4,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.cache_dir = cache_dir
        self.min_interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.clock = clock
        self.requests_sent = 0
        self._last_request: float | None = None

    def cache_path(self, key: Sequence[Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:32]
        return Path(self.cache_dir) / self.provider / f"{digest}.json"

    def cached(self, key: Sequence[Any]) -> Any | None:
        path = self.cache_path(key)
        return json.loads(path.read_text()) if path is not None and path.is_file() else None

    def store(self, key: Sequence[Any], body: Any) -> None:
        path = self.cache_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        tmp.replace(path)  # atomic: a killed run never leaves half a cache file

    def _wait_for_slot(self) -> None:
        if self._last_request is not None and self.min_interval:
            wait = self._last_request + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def run(self, attempt: Callable[[], T]) -> T:
        """attempt() under the rate limit, again after backoff_seconds * 2^n while it raises Retry."""
        problem = "no attempt"
        for n in range(self.max_retries + 1):
            if n:
                self.sleep(self.backoff_seconds * 2 ** (n - 1))
            self._wait_for_slot()
            self.requests_sent += 1
            try:
                return attempt()
            except Retry as exc:
                problem = exc.problem
        raise SourceError(f"{self.provider}: {problem} after {self.max_retries + 1} attempts")
