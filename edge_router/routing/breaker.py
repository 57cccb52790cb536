"""A circuit breaker for the cloud: after N consecutive failures the cloud is skipped for a cool-down, so a
dead endpoint does not cost every request its retries. After the cool-down one call tries it again (half
open): a success closes the circuit, a failure opens it for another cool-down."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

from .. import defaults
from ..errors import CloudCircuitOpenError, CloudError, ConfigurationError


class CircuitBreaker:
    """Counts consecutive cloud failures; thread-safe. ``clock`` is for tests."""

    def __init__(self, failures: int = defaults.BREAKER_FAILURES, cool_down_s: float = defaults.BREAKER_COOL_DOWN_S,
                 *, clock: Callable[[], float] = time.monotonic):
        if failures < 1 or cool_down_s < 0:
            raise ConfigurationError(f"the circuit breaker needs failures >= 1 and cool_down_s >= 0 "
                                     f"(got {failures}, {cool_down_s}).")
        self.failures = failures
        self.cool_down_s = cool_down_s
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._open_until: float | None = None
        self._trial = False

    def check(self) -> None:
        """Raise ``CloudCircuitOpenError`` while the circuit is open; after the cool-down let one call through."""
        with self._lock:
            if self._open_until is None:
                return
            left = self._open_until - self._clock()
            if left <= 0 and not self._trial:
                self._trial = True
                return
            raise CloudCircuitOpenError(
                f"the cloud failed {self._consecutive} times in a row; skipped for "
                f"{max(left, 0):.0f} s more (circuit breaker: {self.failures} failures, {self.cool_down_s:g} s rest)."
            )

    def success(self) -> None:
        with self._lock:
            self._consecutive, self._open_until, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            self._trial = False
            if self._consecutive >= self.failures:
                self._open_until = self._clock() + self.cool_down_s

    def fresh(self) -> CircuitBreaker:
        """A closed breaker with these settings (and clock): one for each further cloud endpoint."""
        return CircuitBreaker(self.failures, self.cool_down_s, clock=self._clock)

    def state(self) -> dict[str, Any]:
        """``closed`` / ``open`` / ``half-open``, the consecutive failures and the seconds of rest left."""
        with self._lock:
            if self._open_until is None:
                return {"state": "closed", "consecutive_failures": self._consecutive, "seconds_left": 0.0}
            left = max(self._open_until - self._clock(), 0.0)
            return {"state": "open" if left > 0 else "half-open", "consecutive_failures": self._consecutive,
                    "seconds_left": left}


class GuardedCloud:
    """A cloud model behind a breaker: the same ``chat``/``stream``/``sample`` calls, each checked first and
    its outcome counted (a stream counts when it ends or breaks)."""

    def __init__(self, cloud: Any, breaker: CircuitBreaker):
        self.cloud = cloud
        self.breaker = breaker
        self.id = cloud.id

    def _call(self, fn: Callable[[], Any], *, done: bool = True) -> Any:
        """``fn()`` if the circuit lets it through; a cloud failure is counted, a success when ``done``."""
        self.breaker.check()
        try:
            result = fn()
        except CloudError:
            self.breaker.failure()
            raise
        if done:
            self.breaker.success()
        return result

    def chat(self, messages, **kwargs):
        return self._call(lambda: self.cloud.chat(messages, **kwargs))

    async def achat(self, messages, **kwargs):
        self.breaker.check()
        try:
            result = await self.cloud.achat(messages, **kwargs)
        except CloudError:
            self.breaker.failure()
            raise
        self.breaker.success()
        return result

    def sample(self, messages, k, **kwargs):
        return self._call(lambda: self.cloud.sample(messages, k, **kwargs))

    def stream(self, messages, **kwargs):  # counted when the stream ends or breaks
        return _CountedStream(self._call(lambda: self.cloud.stream(messages, **kwargs), done=False), self.breaker)

    def close(self) -> None:
        self.cloud.close()


class _CountedStream:
    def __init__(self, stream: Any, breaker: CircuitBreaker):
        self._stream = stream
        self._breaker = breaker

    @property
    def completion(self):
        return self._stream.completion

    def __iter__(self) -> Iterator[str]:
        try:
            yield from self._stream
        except CloudError:
            self._breaker.failure()
            raise
        self._breaker.success()
