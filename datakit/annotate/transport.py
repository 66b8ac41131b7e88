"""The httpx transport under the Label Studio SDK: one retry policy for every request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

RETRY_STATUS = frozenset({500, 502, 503, 504, 429})


class RetryTransport(httpx.BaseTransport):
    """Retries on the wire, under the SDK: the SDK's own retries are turned off
    (``max_retries=0``) so that one policy decides.

    A request that never reached the server (connection refused) is retried whatever its
    method; timeouts, broken connections and 5xx/429 answers are retried only for methods
    that are safe to repeat (not POST: a repeated import would duplicate tasks). Backoff is
    exponential (``backoff · 2^attempt``) through ``sleep``, which tests replace.
    :attr:`last` and :attr:`attempts` describe the last request, for error messages.
    """

    SAFE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.inner = inner
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.force: bool | None = None  # retry decision for the requests of a `with` block
        self.last = ""
        self.attempts = 0
        self.responded = False  # the last request got an answer (its body may still fail)
        self.response: httpx.Response | None = None

    @contextmanager
    def retrying(self, retry: bool | None) -> Iterator[None]:
        """Within the block, retry (True), retry only what never reached the server (False),
        or decide by method (None)."""
        before, self.force = self.force, retry
        try:
            yield
        finally:
            self.force = before

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.last = f"{request.method} {request.url.path}"
        self.responded = False
        safe = request.method in self.SAFE if self.force is None else self.force
        attempts = self.retries + 1
        for attempt in range(attempts):
            self.attempts = attempt + 1
            more = attempt + 1 < attempts
            try:
                response = self.inner.handle_request(request)
            except httpx.ConnectError:  # never reached the server: safe to repeat
                if not more:
                    raise
            except httpx.TransportError:  # timeouts, broken connections
                if not (safe and more):
                    raise
            else:
                if not (response.status_code in RETRY_STATUS and safe and more):
                    self.responded, self.response = True, response
                    return response
                response.close()
            self.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.inner.close()
