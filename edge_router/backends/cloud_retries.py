"""How one request to a cloud endpoint is retried: timeouts within its deadline, backoff, and the error to raise
(shared by ``CloudLLM``'s blocking client and its async one)."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from typing import Any

from .. import settings
from ..errors import CloudError, CloudHTTPError, CloudTimeoutError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class Attempts:
    """The retry schedule of one request to ``cloud``: each attempt's timeout within the deadline, the delay
    before the next, and the error to raise when none is left (shared by the blocking and the async client)."""

    def __init__(self, cloud: Any, *, stream: bool):
        if settings.offline():
            raise CloudError(f"{settings.OFFLINE_ENV} is set: no network access, so the cloud is not called.")
        self.cloud, self.stream = cloud, stream
        self.url = f"{cloud.base_url}/chat/completions"
        self.budget = cloud.first_byte_s if stream else cloud.deadline_s
        self.end = None if self.budget is None else time.monotonic() + self.budget
        self.attempt = -1
        self.last: CloudError | None = None
        self.retry_after: str | None = None  # the last error response's Retry-After header

    def next_timeout(self) -> tuple[float, float] | None:
        """(connect, read) timeouts for the next attempt, or None when the deadline has passed."""
        self.attempt += 1
        self.retry_after = None
        timeout = self.cloud.timeout
        if self.end is not None:
            left = self.end - time.monotonic()
            if left <= 0:
                return None
            timeout = (min(timeout[0], left), min(timeout[1], left))
        return timeout

    def timed_out(self, timeout: tuple[float, float]) -> None:
        self.last = CloudTimeoutError(
            f"{self.url} did not answer within {timeout[1]:.3g} s (connect timeout {timeout[0]:.3g} s) after "
            f"{self.attempt + 1} attempt(s); raise read_timeout or check the server.")

    def unreachable(self, exc: Exception) -> None:
        self.last = CloudError(f"Cannot connect to {self.url} after {self.attempt + 1} attempt(s) "
                               f"({type(exc).__name__}); check the base URL and the network.")

    def http_error(self, status: int, detail: str, retry_after: str | None = None) -> None:
        """An error status (and its Retry-After header): kept for a retry, or raised at once when retrying would
        not help."""
        self.retry_after = retry_after
        self.last = CloudHTTPError(f"{self.url} answered HTTP {status}: {self.cloud._scrub(detail)}", status=status)
        if status not in RETRY_STATUSES:
            if status in (401, 403):
                self.last.args = (f"{self.last.args[0]}. Check {settings.CLOUD_API_KEY_ENV} or the api_key argument.",)
            raise self.last

    def delay(self) -> float | None:
        """Seconds to wait before the next attempt (the server's Retry-After where it sent one), or None when no
        attempt is left within the deadline."""
        if self.attempt >= self.cloud.max_retries:
            return None
        delay = self.cloud._backoff(self.attempt, self.retry_after)
        if self.end is not None and time.monotonic() + delay >= self.end:
            return None
        log.warning("cloud call failed (%s); retry %d/%d in %.2f s", self.last, self.attempt + 1,
                    self.cloud.max_retries, delay)
        return delay

    def final_error(self) -> CloudError:
        if self.last is None or (self.end is not None and time.monotonic() + 0.05 >= self.end):
            what = "the first streamed byte" if self.stream else "a whole answer"
            error = CloudTimeoutError(
                f"{self.url} gave no answer within the deadline of {self.budget:g} s for {what} "
                f"({self.attempt + 1} attempt(s){f'; last: {self.last}' if self.last else ''}); raise deadline_s / "
                "first_byte_s (--cloud-deadline / --cloud-first-byte) or check the server.")
            error.__cause__ = self.last
            return error
        return self.last


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def error_detail(text: str | None, reason: str | None) -> str:
    """What an error response says: its JSON ``error.message``, else its text or status reason (300 characters)."""
    try:
        body = json.loads(text or "")
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        if isinstance(message, str):
            return message[:300]
    except ValueError:
        pass
    return (text or reason or "").strip()[:300]
