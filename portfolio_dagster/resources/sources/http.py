"""HTTP for the live sources: the shared throttle (rate limit, retries with exponential backoff on
429/5xx/timeouts, on-disk cache of good responses) around httpx. Secrets never reach a message."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from portfolio_dagster.resources.sources.errors import SourceError
from portfolio_dagster.resources.sources.throttle import Retry, Throttle

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SECRET_PARAMS = frozenset({"apikey", "token", "api_key"})


class HttpClient:
    """GET JSON from one provider. `check(body)` raises SourceError for a provider's error shape; only
    bodies that pass it are cached. Cache keys leave out secret parameters, so keys never hit disk."""

    def __init__(
        self,
        provider: str,
        cache_dir: Path | None,
        requests_per_minute: float,
        max_retries: int = 4,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.throttle = Throttle(
            provider,
            cache_dir,
            requests_per_minute,
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            clock=clock,
        )
        self.timeout_seconds = timeout_seconds
        self.transport = transport

    @property
    def requests_sent(self) -> int:
        return self.throttle.requests_sent

    @staticmethod
    def _cache_key(url: str, params: Mapping[str, Any]) -> list:
        public = sorted((k, str(v)) for k, v in params.items() if k.lower() not in SECRET_PARAMS)
        return [url, public]

    def get_json(
        self,
        url: str,
        params: Mapping[str, Any],
        check: Callable[[Any], None],
        cache_extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """The parsed body. cache_extra: more cache-key fields not sent (e.g. the as-of day)."""
        key = self._cache_key(url, {**params, **(cache_extra or {})})
        body = self.throttle.cached(key)
        if body is not None:
            return body
        body = self._fetch(url, params)
        check(body)
        self.throttle.store(key, body)
        return body

    def _fetch(self, url: str, params: Mapping[str, Any]) -> Any:
        with httpx.Client(timeout=self.timeout_seconds, transport=self.transport) as client:
            return self.throttle.run(lambda: self._attempt(client, url, params))

    def _attempt(self, client: httpx.Client, url: str, params: Mapping[str, Any]) -> Any:
        try:
            response = client.get(url, params=dict(params))
        except httpx.TimeoutException:
            raise Retry("timed out") from None
        except httpx.TransportError as exc:
            # str(exc) may hold the URL with its key: name the error type only.
            raise Retry(f"connection failed ({type(exc).__name__})") from None
        if response.status_code in RETRY_STATUSES:
            raise Retry(
                "rate limited (HTTP 429)"
                if response.status_code == 429
                else f"server error (HTTP {response.status_code})"
            )
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> Any:
        status = response.status_code
        text = response.text
        if status in (401, 403):
            raise SourceError(
                f"{self.provider}: the API key was refused (HTTP {status}); check the key in the environment"
            )
        looks_html = "html" in response.headers.get("content-type", "") or text.lstrip()[:1] == "<"
        if looks_html:
            raise SourceError(f"{self.provider}: an HTML page instead of data (HTTP {status})")
        if status >= 400:
            raise SourceError(f"{self.provider}: request refused (HTTP {status})")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise SourceError(
                f"{self.provider}: truncated or invalid JSON (HTTP {status}, {len(text)} bytes)"
            ) from None
