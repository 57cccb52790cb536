"""A streamed local answer: text pieces as llama.cpp decodes them, holding the model until it ends or is closed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ..errors import LocalModelError
from .completions import Completion, Sampling, Usage
from .token_stats import TokenStats

if TYPE_CHECKING:
    from .local_llm import LocalLLM


class LocalStream:
    """Iterate for text pieces; afterwards ``completion`` holds the whole answer.

    The model is held from the first piece until the stream ends or its iterator is closed. With ``stats``,
    ``token_stats`` grows by one ``TokenStats`` per generated token (text pieces can lag the tokens while a
    stop string may be starting).
    """

    def __init__(self, llm: LocalLLM, tokens: list[int], *, max_tokens: int, temperature: float,
                 sampling: Sampling | None = None, stats: bool = False):
        self._llm = llm
        self._tokens = tokens
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._sampling = sampling
        self._stats = stats
        self.token_stats: list[TokenStats] = []
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        llm = self._llm
        stops = self._sampling.stop if self._sampling else ()
        hold = max((len(s) for s in stops), default=1) - 1  # text that may be the start of a stop string
        text, sent, n_tokens = "", 0, 0
        with llm._lock:
            gen = llm._generate(self._tokens, max_tokens=self._max_tokens, temperature=self._temperature,
                                stats=self._stats, sampling=self._sampling, repeat_penalty=llm.repeat_penalty)
            while True:
                try:
                    piece, stats = next(gen)
                except StopIteration as stop:
                    finish = stop.value or "stop"
                    break
                n_tokens += 1
                if stats is not None:
                    self.token_stats.append(stats)
                text += piece
                cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
                    break
                if len(text) - hold > sent:
                    yield text[sent:len(text) - hold]
                    sent = len(text) - hold
            gen.close()
        if len(text) > sent:
            yield text[sent:]
        if self._sampling is not None and self._sampling.json_schema() is not None and finish == "stop":
            _check_json(text)
        usage = Usage(prompt_tokens=len(self._tokens), completion_tokens=n_tokens)
        self.completion = Completion(text=text.strip(), finish_reason=finish, model=llm.id, usage=usage,
                                     cost_usd=0.0, token_stats=tuple(self.token_stats))


def _check_json(text: str) -> None:
    """A JSON-constrained answer that is not JSON after all (llama.cpp's grammar is applied lazily and can let a
    token through) is a local failure, so that the router falls back instead of passing it on."""
    import json

    try:
        json.loads(text)
    except ValueError as exc:
        raise LocalModelError(f"the device's answer is not valid JSON although JSON was asked for "
                              f"({exc.msg})") from None
