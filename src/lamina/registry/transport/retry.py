"""When to send a request again: transient failures, with back-off and ``Retry-After``.

Connection errors, 429 and 5xx are retried with exponential back-off (a registry's
``Retry-After`` wins, capped); failures a retry cannot mend (unknown host, refused, no route,
TLS) are raised at once, as docker's dialer does, so an unreachable registry fails fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lamina.registry.transport.failures import is_tls_error, unreachable

if TYPE_CHECKING:
    import httpx

#: Answers worth asking again: rate limited or a server (or proxy) briefly failing.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryPolicy:
    """How many attempts, how long to wait between them; ``sleep`` is replaceable for tests."""

    def __init__(self) -> None:
        self.attempts = 5
        self.backoff_base = 0.5
        self.max_backoff = 10.0
        self.max_retry_after = 60.0
        self.sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))

    def wait(self, attempt: int) -> None:
        """Sleep the back-off after failed attempt number ``attempt``."""
        self.sleep(self.backoff(attempt))

    def retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        if value.isdigit():
            return min(float(value), self.max_retry_after)
        import email.utils  # an HTTP date: rare, and the module is slow to import

        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        return max(0.0, min(when - time.time(), self.max_retry_after))

    def exchange(
        self,
        client: httpx.Client,
        build: Callable[[], httpx.Request],
        *,
        stream: bool = False,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request, retrying connection errors, 429 and 5xx with backoff (``Retry-After`` wins)."""
        import httpx

        attempts = self.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = client.send(build(), stream=stream)
            except httpx.TransportError as exc:
                if attempt == attempts or is_tls_error(exc) or (attempt == 1 and unreachable(exc)):
                    raise  # no such host, no route, nothing listening: say so at once, like docker
                self.wait(attempt)
                continue
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                delay = self.retry_after(response) or self.backoff(attempt)
                response.close()
                self.sleep(delay)
                continue
            return response
        raise AssertionError("unreachable")
