"""The one interface the local and the cloud model share, so routing, semantic entropy and labelling
treat both sides alike."""

from __future__ import annotations

from typing import Iterator, Protocol

from .completions import Completion, Sample, Sampling
from .messages import Messages


class ChatStream(Protocol):
    """Iterate for text pieces; afterwards ``completion`` holds the whole answer."""

    completion: Completion | None

    def __iter__(self) -> Iterator[str]: ...


class ChatModel(Protocol):
    """A chat model: ``LocalLLM`` (llama.cpp) or ``CloudLLM`` (an OpenAI-compatible endpoint)."""

    id: str

    def chat(self, messages: Messages | str, *, max_tokens: int, temperature: float = 0.0,
             sampling: Sampling | None = None) -> Completion:
        """One answer (greedy by default)."""
        ...

    def stream(self, messages: Messages | str, *, max_tokens: int, temperature: float = 0.0,
               sampling: Sampling | None = None) -> ChatStream:
        """A streamed answer."""
        ...

    def sample(self, messages: Messages | str, k: int, *, temperature: float = 1.0,
               max_tokens: int = 64) -> list[Sample]:
        """``k`` answers sampled at ``temperature``, with token log-probabilities where known."""
        ...

    def close(self) -> None:
        """Free what the model holds (native memory, connections)."""
        ...
