"""``AsyncEdgeRouter``: the same decisions, fallbacks and records as ``EdgeRouter``, for asyncio code.

``achat`` decides in a worker thread (the embedding is CPU work), answers on the device in a worker thread
behind the local model's lock, and asks the cloud over an async HTTP client (``httpx``, the ``async`` extra)
when every endpoint has one; without ``httpx`` the whole call runs in a worker thread, as ``aroute`` does. A
stream is read by a thread of its own; leaving it early, ``aclose()``, or cancelling the task that reads it
stops it after the piece being made and closes it, which frees the local model and the cloud connection.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from typing import Any, AsyncIterator

from ..backends.completions import Sampling
from ..backends.messages import Messages, normalize
from .answer_stream import checks
from .decision import LOCAL, Answer, Decision
from .routes import FAILURES, answer_of, both_failed
from .stages import Query


class AsyncEdgeRouter:
    """``router`` (an ``EdgeRouter``) behind ``achat``, ``astream`` and ``aroute``; ``aclose()`` closes the
    async HTTP clients this event loop opened."""

    def __init__(self, router: Any):
        self.router = router
        self._httpx = importlib.util.find_spec("httpx") is not None  # looked up once, not on every call

    def native(self) -> bool:
        """Whether ``achat`` asks the cloud over the async HTTP client (httpx installed, every endpoint able)."""
        clouds = self.router.clouds
        return self._httpx and bool(clouds) and all(hasattr(c, "achat") for c in clouds)

    async def achat(self, messages: Messages | str, *, max_tokens: int | None = None, force: str | None = None,
                    cloud_share: float | None = None, sampling: Sampling | None = None, privacy: str | None = None,
                    endpoint: str | None = None) -> Answer:
        """``EdgeRouter.chat`` (same options), awaited."""
        router = self.router
        if not self.native():
            return await asyncio.to_thread(router.chat, messages, max_tokens=max_tokens, force=force,
                                           cloud_share=cloud_share, sampling=sampling, privacy=privacy,
                                           endpoint=endpoint)
        messages = normalize(messages)
        max_tokens = router._max_tokens(max_tokens)
        decision, query = await asyncio.to_thread(router._decide, messages, force, max_tokens, cloud_share, privacy,
                                                  endpoint)
        if checks(router.answer_check, router.routes, decision):
            return await asyncio.to_thread(router._checked_answer, query, decision, max_tokens, sampling)
        start = time.perf_counter()
        try:
            completion = await self._answer_on(decision.route, query, max_tokens, sampling)
        except FAILURES[decision.route] as first:
            decision = router.routes.fall_back(decision, first)
            try:
                completion = await self._answer_on(decision.route, query, max_tokens, sampling)
            except FAILURES[decision.route] as second:
                raise both_failed(first, second) from second
        answer = answer_of(completion, decision, start)
        await asyncio.to_thread(router.routes.record, "answer", query.messages, answer, vector=query.vector)
        return answer

    async def _answer_on(self, route: str, query: Query, max_tokens: int, sampling: Sampling | None) -> Any:
        if route == LOCAL:
            return await asyncio.to_thread(self.router._answer_on, route, query, max_tokens, sampling)
        return query.restored(await self.router.routes.clouds.achat(query.for_cloud(), max_tokens=max_tokens,
                                                                    sampling=sampling, endpoint=query.endpoint))

    async def aroute(self, messages: Messages | str, **options: Any) -> Decision:
        """``EdgeRouter.route`` (same options), awaited."""
        return await asyncio.to_thread(self.router.route, messages, **options)

    async def astream(self, messages: Messages | str, **options: Any) -> AsyncAnswerStream:
        """``EdgeRouter.stream`` (same options): routed now; iterate with ``async for``."""
        return AsyncAnswerStream(await asyncio.to_thread(self.router.stream, messages, **options))

    async def aclose(self) -> None:
        from ..backends.async_cloud import aclose_clients

        await aclose_clients()


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
