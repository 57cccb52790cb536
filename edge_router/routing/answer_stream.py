"""``AnswerStream``: a routed, streamed answer, with the answer check and the fallbacks of ``EdgeRouter.chat``."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Iterator

import numpy as np

from ..backends.completions import Sampling
from ..backends.messages import Messages
from ..defaults import Route
from ..errors import CloudResponseError
from .decision import CLOUD, LOCAL, Answer, Decision
from .routes import FAILURES, Routes, answer_of, both_failed


def checks(answer_check: Any, routes: Routes, decision: Decision) -> bool:
    """Whether the answer check judges this local answer: on, a decided (not forced) local route, and a cloud
    that is not being skipped."""
    return (answer_check is not None and decision.route == LOCAL and decision.fallback is None
            and decision.mode not in ("forced", "local-only", "privacy") and routes.cloud_available())


class AnswerStream:
    """A routed, streamed answer.

    ``decision`` is known before the first piece, except with the answer check:
    then ``settle()`` (or the first piece) generates and judges the held tokens
    and may move the query to the cloud; the held text is delivered only when
    the local answer is kept. A failure before the first piece falls back to the
    other route as in ``EdgeRouter.chat``. A cloud
    stream cut after pieces were delivered is finished on the device: the local
    model continues from the text already delivered, so the caller reads one
    uninterrupted answer, marked ``degraded`` (fallback kind
    ``cloud_stream_cut``); only if that fails too is the ``CloudResponseError``
    raised, with the ``partial_text`` received. After iteration, ``answer`` is
    the whole ``Answer``. ``close()`` (or leaving a ``with`` block, or dropping the stream) ends an unfinished
    answer and lets the local model go.
    """

    def __init__(self, routes: Routes, messages: Messages, decision: Decision, max_tokens: int,
                 sampling: Sampling | None = None, *, answer_check: Any = None, embedder: Any = None,
                 query_vector: np.ndarray | None = None, cloud_messages: Messages | None = None,
                 redaction: Any = None, endpoint: str | None = None):
        self._routes = routes
        self._endpoint = endpoint
        self._cloud_messages = cloud_messages
        self._redaction = redaction
        self._answer_check = answer_check
        self._embedder = embedder
        self._query_vector = query_vector
        self._messages = messages
        self._max_tokens = max_tokens
        self._sampling = sampling
        self.decision = decision
        self.answer: Answer | None = None
        self._start = 0.0
        self._settled = False
        self._kept: tuple | None = None  # (piece iterator, held pieces, local stream) of a local answer kept
        self._pieces: Iterator[str] | None = None

    def _open(self, route: Route, prefix: str = "") -> tuple[Any, Iterator[str]]:
        """The route's stream and its pieces: a cloud sees the redacted messages, and its pieces are restored."""
        model = self._routes.model(route)
        extra = {"prefix": prefix} if prefix else {"endpoint": self._endpoint} if route == CLOUD else {}
        redacted = route == CLOUD and self._redaction is not None
        messages = self._cloud_messages if redacted else self._messages
        stream = model.stream(messages, max_tokens=self._max_tokens, sampling=self._sampling, **extra)
        return stream, (self._redaction.restore_stream(stream) if redacted else iter(stream))

    def settle(self) -> Decision:
        """Run the answer check now where it applies; afterwards ``decision`` names the answering route
        (until a fallback)."""
        if not self._settled:
            self._settled, self._start = True, time.perf_counter()
            if checks(self._answer_check, self._routes, self.decision):
                self._check()
        return self.decision

    def _check(self) -> None:
        routes, check = self._routes, self._answer_check
        t0 = time.perf_counter()
        try:
            stream = routes.local.stream(self._messages, max_tokens=self._max_tokens, sampling=self._sampling,
                                         stats=True)
            pieces, held = iter(stream), []
            for piece in pieces:
                held.append(piece)
                if len(stream.token_stats) >= check.hold_tokens:
                    break
        except FAILURES[LOCAL] as exc:
            self.decision = routes.fall_back(self.decision, exc)
            return
        t1 = time.perf_counter()
        vector = self._query_vector
        if check.probe.uses_embedding and vector is None:  # a gate-only router embedded nothing
            from ..backends.messages import routing_text

            vector = self._embedder.embed_one(routing_text(self._messages)).vector
        score = check.probe.score(stream.token_stats, vector)
        n = len(stream.token_stats)
        timings = {**self.decision.timings_ms, "check_hold": (t1 - t0) * 1e3,
                   "check": (time.perf_counter() - t1) * 1e3}
        offload = score >= check.threshold
        route = CLOUD if offload else LOCAL
        verdict = (f"answer check: P(local answer wrong) {score:.3f} {'>=' if offload else '<'} "
                   f"{check.threshold:.3f} after {n} held tokens; "
                   + ("the local start was dropped and the cloud answers" if offload else "the local answer goes on"))
        record = {"name": "answer-check", "route": route, "score": score, "ms": (time.perf_counter() - t0) * 1e3,
                  "reason": verdict}
        self.decision = replace(self.decision, route=route, decided=route, reason=f"{self.decision.reason}; {verdict}",
                                check_score=score, check_threshold=check.threshold, check_tokens=n, timings_ms=timings,
                                stages=(*self.decision.stages, record))
        if offload:
            pieces.close()  # frees the local model
        else:
            self._kept = (pieces, held, stream)

    def __iter__(self) -> Iterator[str]:
        if self._pieces is None:
            self._pieces = self._generate()
        return self._pieces

    def close(self) -> None:
        """End the answer where it is; the local model is free afterwards. Idempotent."""
        if self._kept is not None:
            self._kept[0].close()
        if self._pieces is not None:
            self._pieces.close()

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - a finaliser must not raise
            pass

    def _generate(self) -> Iterator[str]:
        self.settle()
        routes = self._routes
        if self._kept is not None:
            pieces, held, stream = self._kept
            yield from held
            yield from pieces
            self.answer = answer_of(stream.completion, self.decision, self._start)
            routes.record("answer", self._messages, self.answer, vector=self._query_vector)
            return
        first_error: Exception | None = None
        partial = ""
        for _ in range(2):
            route = self.decision.route
            delivered: list[str] = []
            try:
                stream, pieces = self._open(route, partial)
                try:
                    for piece in pieces:
                        delivered.append(piece)
                        yield piece
                finally:
                    if hasattr(pieces, "close"):
                        pieces.close()
                break
            except FAILURES[route] as exc:
                if partial:  # the device could not finish a cut cloud stream either
                    raise first_error from exc
                if delivered:
                    if not (isinstance(exc, CloudResponseError) and routes.local is not None):
                        raise
                    partial = self._redaction.restore(exc.partial_text) if self._redaction else exc.partial_text
                    self.decision = routes.fall_back(self.decision, exc, stream_cut=True)
                    first_error = exc
                    continue
                if first_error is not None:
                    raise both_failed(first_error, exc) from exc
                first_error = exc
                self.decision = routes.fall_back(self.decision, exc)
        completion = stream.completion
        if self.decision.route == CLOUD and self._redaction is not None:
            completion = replace(completion, text=self._redaction.restore(completion.text))
        if partial:  # the answer is the cloud's beginning and the device's continuation, as delivered
            completion = replace(completion, text=(partial + "".join(delivered)).strip())
        self.answer = answer_of(completion, self.decision, self._start)
        routes.record("answer", self._messages, self.answer, vector=self._query_vector)
