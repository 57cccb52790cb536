"""A lock that lets waiting threads in strictly in the order they arrived."""

from __future__ import annotations

import threading


class FifoLock:
    """Mutual exclusion with first-come, first-served hand-over (``threading.Lock`` promises no order).

    The holder may release it from another thread, as a generator resumed by a
    worker pool does.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    def __enter__(self) -> FifoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
