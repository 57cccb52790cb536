"""``AsyncEdgeRouter``: the same decisions, fallbacks and records as ``EdgeRouter``, for asyncio code.

Each call runs the synchronous router in a worker thread: the local model behind its lock, the cloud through the
blocking HTTP client (not an async one yet). A stream is read by a thread of its own; leaving it early,
``aclose()``, or cancelling the task that reads it stops it after the piece being made and closes it, which frees
the local model and the cloud connection.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator

from ..backends.messages import Messages
from .decision import Answer, Decision


class AsyncEdgeRouter:
    """``router`` (an ``EdgeRouter``) behind ``achat``, ``astream`` and ``aroute``."""

    def __init__(self, router: Any):
        self.router = router

    async def achat(self, messages: Messages | str, **options: Any) -> Answer:
        """``EdgeRouter.chat`` (same options), awaited."""
        return await asyncio.to_thread(self.router.chat, messages, **options)

    async def aroute(self, messages: Messages | str, **options: Any) -> Decision:
        """``EdgeRouter.route`` (same options), awaited."""
        return await asyncio.to_thread(self.router.route, messages, **options)

    async def astream(self, messages: Messages | str, **options: Any) -> AsyncAnswerStream:
        """``EdgeRouter.stream`` (same options): routed now; iterate with ``async for``."""
        return AsyncAnswerStream(await asyncio.to_thread(self.router.stream, messages, **options))


class AsyncAnswerStream:
    """An ``AnswerStream`` for ``async for``; ``decision`` and, once read to the end, ``answer`` as there.

    The sync stream is read by a thread of its own, which hands each piece to the event loop: a local answer holds
    the local model between pieces, and a shared worker pool whose threads all wait for that model would never
    come back to make its next piece.
    """

    def __init__(self, stream: Any):
        self._stream = stream
        self._queue: asyncio.Queue = asyncio.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def decision(self) -> Decision:
        return self._stream.decision

    @property
    def answer(self) -> Answer | None:
        return self._stream.answer

    def _produce(self, loop: asyncio.AbstractEventLoop) -> None:
        def hand(kind: str, value: Any = None) -> None:
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is gone: nobody reads any more
                self._stop.set()

        try:
            for piece in self._stream:
                if self._stop.is_set():
                    break
                hand("piece", piece)
            hand("end")
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            hand("error", exc)
        finally:
            self._stream.close()  # in the thread that read it: frees the local model

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._produce, args=(asyncio.get_running_loop(),),
                                            name="edge-router-astream", daemon=True)
            self._thread.start()
        try:
            while True:
                kind, value = await self._queue.get()
                if kind == "error":
                    raise value
                if kind == "end":
                    return
                yield value
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the answer where it is; the local model is free afterwards. Idempotent."""
        self._stop.set()
        if self._thread is None:
            self._stream.close()
            return
        while self._thread.is_alive():  # the piece being made ends, then the reader thread closes the stream
            await asyncio.sleep(0.005)

    async def __aenter__(self) -> AsyncAnswerStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
