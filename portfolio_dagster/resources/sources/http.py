"""HTTP for the live sources: a rate limit, retries with exponential backoff on 429/5xx/timeouts, and an
on-disk cache of good responses so a re-run does not download again. Secrets never reach a message."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from portfolio_dagster.resources.sources.errors import SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SECRET_PARAMS = frozenset({"apikey", "token", "api_key"})


class HttpClient:
    """GET JSON from one provider. `check(body)` raises SourceError for a provider's error shape; only
    bodies that pass it are cached. Cache keys leave out secret parameters, so keys never hit disk."""

    def __init__(self, provider: str, cache_dir: Path | None, requests_per_minute: float,
                 max_retries: int = 4, backoff_seconds: float = 1.0, timeout_seconds: float = 30.0,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.cache_dir = cache_dir
        self.min_interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.transport = transport
        self.sleep = sleep
        self.clock = clock
        self.requests_sent = 0
        self._last_request: float | None = None

    def _cache_path(self, url: str, params: Mapping[str, Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        public = sorted((k, str(v)) for k, v in params.items() if k.lower() not in SECRET_PARAMS)
        digest = hashlib.sha256(json.dumps([url, public]).encode()).hexdigest()[:32]
        return Path(self.cache_dir) / self.provider / f"{digest}.json"

    def _wait_for_slot(self) -> None:
        if self._last_request is not None and self.min_interval:
            wait = self._last_request + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def get_json(self, url: str, params: Mapping[str, Any], check: Callable[[Any], None],
                 cache_extra: Mapping[str, Any] | None = None) -> Any:
        """The parsed body. cache_extra: more cache-key fields not sent (e.g. the as-of day)."""
        cache = self._cache_path(url, {**params, **(cache_extra or {})})
        if cache is not None and cache.is_file():
            return json.loads(cache.read_text())
        body = self._fetch(url, params)
        check(body)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(body))
            tmp.replace(cache)
        return body

    def _fetch(self, url: str, params: Mapping[str, Any]) -> Any:
        problem = "no attempt"
        with httpx.Client(timeout=self.timeout_seconds, transport=self.transport) as client:
            for attempt in range(self.max_retries + 1):
                if attempt:
                    self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                self._wait_for_slot()
                self.requests_sent += 1
                try:
                    response = client.get(url, params=dict(params))
                except httpx.TimeoutException:
                    problem = "timed out"
                    continue
                except httpx.TransportError as exc:
                    # str(exc) may hold the URL with its key: name the error type only.
                    problem = f"connection failed ({type(exc).__name__})"
                    continue
                if response.status_code in RETRY_STATUSES:
                    problem = ("rate limited (HTTP 429)" if response.status_code == 429
                               else f"server error (HTTP {response.status_code})")
                    continue
                return self._parse(response)
        raise SourceError(f"{self.provider}: {problem} after {self.max_retries + 1} attempts")

    def _parse(self, response: httpx.Response) -> Any:
        status = response.status_code
        text = response.text
        if status in (401, 403):
            raise SourceError(f"{self.provider}: the API key was refused (HTTP {status}); "
                              "check the key in the environment")
        looks_html = "html" in response.headers.get("content-type", "") or text.lstrip()[:1] == "<"
        if looks_html:
            raise SourceError(f"{self.provider}: an HTML page instead of data (HTTP {status})")
        if status >= 400:
            raise SourceError(f"{self.provider}: request refused (HTTP {status})")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise SourceError(f"{self.provider}: truncated or invalid JSON (HTTP {status}, "
                              f"{len(text)} bytes)") from None
