"""Fakes for an app's own tests: build an ``EdgeRouter`` and get answers without any model file.

    from edge_router import EdgeRouter
    from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter

    router = EdgeRouter(local=FakeLocal(answers=["4"]), cloud=FakeCloud(), router=FakeRouter(),
                        embedder=FakeEmbedder())
    assert router.chat("2 + 2?").text == "4"          # short prompts score low and stay local

``FakeRouter`` scores a query by its length (characters / 100), so a test picks the route by the prompt it
sends. For the HTTP side, ``CloudServer`` (re-exported from ``edge_router.loopback.fault_server``) is a real
OpenAI-compatible server on 127.0.0.1 that can fail on purpose; point a ``CloudLLM`` at its ``base_url``.
These fakes are duck-typed: they implement what ``EdgeRouter`` calls, no more.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

from .backends.completions import Completion, Sample, Usage
from .backends.embedder import EmbeddedQuery
from .errors import CloudError, CloudResponseError, LocalModelError
from .loopback.fault_server import CloudServer

__all__ = ["CloudServer", "FakeCloud", "FakeEmbedder", "FakeLocal", "FakeRouter", "FakeStream"]


class FakeStream:
    """A streamed answer, word by word; ``completion`` is set once it ends. ``fail`` raises before the first
    piece; ``cut_after`` breaks a cloud stream after that many words (``CloudResponseError`` with the text
    received)."""

    def __init__(self, text: str, model: str, fail: Exception | None = None, cut_after: int | None = None):
        self._text, self._model, self._fail, self._cut = text, model, fail, cut_after
        self.completion: Completion | None = None
        self.closed = False

    def __iter__(self) -> Iterator[str]:
        if self._fail:
            raise self._fail
        words = self._text.split(" ")
        try:
            for i, word in enumerate(words):
                if self._cut is not None and i == self._cut:
                    raise CloudResponseError("cut", partial_text=" ".join(words[:i]))
                yield word if i == 0 else " " + word
        finally:
            self.closed = True
        self.completion = Completion(self._text, "stop", self._model, Usage(3, len(words)), 0.0)


class _Answers:
    """Answers handed out in order; the last one repeats."""

    def __init__(self, answers: Iterable[str]):
        self._queue = deque(answers)
        if not self._queue:
            raise ValueError("give at least one answer")

    def next(self) -> str:
        return self._queue.popleft() if len(self._queue) > 1 else self._queue[0]


class FakeLocal:
    """A local model: answers from ``answers`` in order (the last repeats), ``samples`` for the uncertainty
    gate, a context of ``n_ctx`` words (the whole conversation's); ``fail=True`` raises ``LocalModelError`` on
    every call."""

    id = "fake-local"

    def __init__(self, *, answers: Iterable[str] = ("local answer",), samples: list[str] | None = None,
                 fail: bool = False, n_ctx: int = 2048):
        self._answers = _Answers(answers)
        self.samples = samples or ["same"] * 5
        self.fail = fail
        self.n_ctx = n_ctx
        self.calls = 0
        self.prefixes: list[str] = []

    def fits(self, messages, max_tokens: int) -> bool:
        """Words count as tokens."""
        return len(self.prompt_tokens(messages)) + max_tokens <= self.n_ctx

    def prompt_tokens(self, messages) -> list[str]:
        """The conversation's words."""
        return [w for m in messages for w in m["content"].split()]

    def chat(self, messages, *, max_tokens: int, temperature: float = 0.0, sampling=None) -> Completion:
        self.calls += 1
        if self.fail:
            raise LocalModelError("local exploded")
        return Completion(self._answers.next(), "stop", self.id, Usage(3, 2), 0.0)

    def stream(self, messages, *, max_tokens: int, temperature: float = 0.0, sampling=None, prefix: str = ""):
        self.calls += 1
        if prefix:
            self.prefixes.append(prefix)
        return FakeStream(self._answers.next() + " here", self.id,
                          LocalModelError("local exploded") if self.fail else None)

    def sample(self, messages, k: int, *, temperature: float, max_tokens: int) -> list[Sample]:
        return [Sample(text, (-0.5,)) for text in self.samples[:k]]

    def prefill_state(self, messages, *, keep: bool = True, up_to_layer: int | None = None, stop_when=None):
        """A two-layer "state" of width 2: the last message's length in characters / 100, and 1 (zeros after
        ``up_to_layer`` when it stops there: always, or when ``stop_when`` says so); the layers read are in
        ``read_layers``."""
        import numpy as np

        from .backends.prefill_state import PrefillState

        row = np.array([len(messages[-1]["content"]) / 100, 1.0], np.float32)
        state = PrefillState(last=np.stack([row, row]), mean=row[None, :], n_tokens=len(messages[-1]["content"]))
        self.read_layers = 2
        if up_to_layer is not None and (stop_when is None or stop_when(state)):
            state.last[up_to_layer + 1:] = 0.0
            self.read_layers = up_to_layer + 1
        return state

    def close(self) -> None:
        pass


class FakeCloud:
    """A cloud model: answers from ``answers`` in order (the last repeats), at $0.002 each; ``fail=True``
    raises ``CloudError``; ``cut_after`` breaks its streams after that many words."""

    id = "cloud:fake"

    def __init__(self, *, answers: Iterable[str] = ("cloud answer",), fail: bool = False,
                 cut_after: int | None = None):
        self._answers = _Answers(answers)
        self.fail = fail
        self.cut_after = cut_after
        self.calls = 0

    def chat(self, messages, *, max_tokens: int, sampling=None) -> Completion:
        self.calls += 1
        if self.fail:
            raise CloudError("cloud unreachable")
        return Completion(self._answers.next(), "stop", self.id, Usage(3, 2), 0.002)

    def stream(self, messages, *, max_tokens: int, sampling=None) -> FakeStream:
        self.calls += 1
        if self.fail:
            raise CloudError("cloud unreachable")
        return FakeStream(self._answers.next() + " here", self.id, cut_after=self.cut_after)

    def close(self) -> None:
        pass


class FakeEmbedder:
    """A one-dimensional "embedding": the text's length in characters / 100."""

    id = "fake-embedder"
    dim = 1

    def embed_one(self, text: str) -> EmbeddedQuery:
        import numpy as np

        return EmbeddedQuery(np.array([len(text) / 100], np.float32), len(text.split()), False, 0.1, 0.2)

    def embed(self, texts):
        import numpy as np

        return np.stack([self.embed_one(t).vector for t in texts])


class FakeRouter:
    """Scores a ``FakeEmbedder`` vector as itself: (length of the query in characters) / 100."""

    id = "fake:length"

    def score(self, vectors):
        import numpy as np

        return np.atleast_2d(vectors)[:, 0]

    def threshold_for_share(self, share: float) -> float:
        """As if calibrated on queries of 0 to 100 characters, evenly spread."""
        return 1.0 - share
