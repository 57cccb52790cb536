"""Several cloud endpoints as one: tried in order, each behind its own circuit breaker.

A request goes to the first endpoint (or the one it names); a failure passes it to the next, and only when every
endpoint has failed or is resting does the caller fall back to the device. Each call returns what it tried, in
order, so the decision can say which endpoint answered and which failed and why. A stream moves on only while
nothing has been delivered: once its first piece is out, a cut is the device's to finish, as with one endpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

from ..backends.completions import Completion
from ..errors import CloudCircuitOpenError, CloudError, ConfigurationError, InvalidInputError
from .breaker import CircuitBreaker, GuardedCloud

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One endpoint tried: its name, and the error that made the request move on (None: it answered)."""

    endpoint: str
    error: str | None = None
    skipped: bool = False  # its circuit breaker was open: not called

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "error": self.error, "skipped": self.skipped}


class CloudChainError(CloudError):
    """Every endpoint failed or was resting; ``attempts`` says what happened at each."""

    def __init__(self, message: str, attempts: Sequence[Attempt], *, all_skipped: bool):
        super().__init__(message)
        self.attempts = tuple(attempts)
        self.all_skipped = all_skipped


class CloudChain:
    """``clouds`` in fallback order; ``breaker`` guards the first, and each other endpoint gets its own with the
    same settings."""

    def __init__(self, clouds: Sequence[Any], breaker: CircuitBreaker | None = None):
        if not clouds:
            raise ConfigurationError("a cloud chain needs at least one endpoint.")
        names = [getattr(c, "name", c.id) for c in clouds]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigurationError(f"cloud endpoints need distinct names; {', '.join(twice)} is used twice "
                                     "(give each a name=).")
        first = breaker or CircuitBreaker()
        self.clouds = list(clouds)
        self.names = names
        self.guarded = [GuardedCloud(c, first if i == 0 else first.fresh()) for i, c in enumerate(clouds)]
        self.id = self.guarded[0].id

    def breaker(self, name: str | None = None) -> CircuitBreaker:
        """The circuit breaker of the endpoint ``name`` (the first by default)."""
        return self.guarded[self._index(name) if name else 0].breaker

    def available(self) -> bool:
        """Whether any endpoint's circuit lets a call through now."""
        return any(g.breaker.state()["state"] != "open" for g in self.guarded)

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise InvalidInputError(f"no cloud endpoint named {name!r}; configured: {', '.join(self.names)}.")
        return self.names.index(name)

    def order(self, endpoint: str | None = None) -> list[int]:
        """Endpoint indices in the order a request tries them: ``endpoint`` first when named."""
        indices = list(range(len(self.guarded)))
        if endpoint is not None:
            first = self._index(endpoint)
            indices.remove(first)
            indices.insert(0, first)
        return indices

    def first_id(self, endpoint: str | None = None) -> str:
        """The id of the endpoint a request tries first."""
        return self.guarded[self.order(endpoint)[0]].id

    def _try(self, call: Callable[[GuardedCloud], Any], endpoint: str | None) -> tuple[Any, tuple[Attempt, ...]]:
        tries = _Tries(self.order(endpoint))
        for i in tries.order:
            try:
                result = call(self.guarded[i])
            except CloudError as exc:
                tries.failed(self.names[i], i, exc)
                continue
            return result, tries.answered(self.names[i])
        raise tries.exhausted()

    async def achat(self, messages: Any, *, endpoint: str | None = None, **kwargs: Any) -> Completion:
        """``chat`` over each endpoint's async client (``CloudLLM.achat``)."""
        tries = _Tries(self.order(endpoint))
        for i in tries.order:
            try:
                completion = await self.guarded[i].achat(messages, **kwargs)
            except CloudError as exc:
                tries.failed(self.names[i], i, exc)
                continue
            return replace(completion, attempts=tuple(a.to_dict() for a in tries.answered(self.names[i])))
        raise tries.exhausted()

    def chat(self, messages: Any, *, endpoint: str | None = None, **kwargs: Any) -> Completion:
        """The first endpoint's answer that comes; the completion's ``attempts`` lists what was tried."""
        completion, attempts = self._try(lambda g: g.chat(messages, **kwargs), endpoint)
        return replace(completion, attempts=tuple(a.to_dict() for a in attempts))

    def sample(self, messages: Any, k: int, *, endpoint: str | None = None, **kwargs: Any) -> Any:
        return self._try(lambda g: g.sample(messages, k, **kwargs), endpoint)[0]

    def stream(self, messages: Any, *, endpoint: str | None = None, **kwargs: Any) -> ChainStream:
        """The first endpoint whose stream opens (the request is sent, and retried, before this returns)."""
        stream, attempts = self._try(lambda g: g.stream(messages, **kwargs), endpoint)
        return ChainStream(stream, attempts)

    def close(self) -> None:
        for g in self.guarded:
            g.close()


class _Tries:
    """What one request has tried so far along the chain, and the error when every endpoint failed."""

    def __init__(self, order: list[int]):
        self.order = order
        self.attempts: list[Attempt] = []
        self.last: CloudError | None = None

    def failed(self, name: str, index: int, exc: CloudError) -> None:
        skipped = isinstance(exc, CloudCircuitOpenError)
        self.attempts.append(Attempt(name, str(exc), skipped=skipped))
        self.last = exc
        if not skipped and index != self.order[-1]:
            log.warning("cloud endpoint %s failed (%s); trying the next one", name, exc)

    def answered(self, name: str) -> tuple[Attempt, ...]:
        return (*self.attempts, Attempt(name))

    def exhausted(self) -> CloudError:
        assert self.last is not None
        if len(self.attempts) == 1:
            return self.last
        summary = "; ".join(f"{a.endpoint}: {a.error}" for a in self.attempts)
        error = CloudChainError(f"every cloud endpoint failed ({summary})", self.attempts,
                                all_skipped=all(a.skipped for a in self.attempts))
        error.__cause__ = self.last
        return error


class ChainStream:
    """An open endpoint's stream; ``completion`` afterwards carries the chain's ``attempts``."""

    def __init__(self, stream: Any, attempts: tuple[Attempt, ...]):
        self._stream = stream
        self.attempts = attempts

    @property
    def completion(self) -> Completion | None:
        done = self._stream.completion
        return None if done is None else replace(done, attempts=tuple(a.to_dict() for a in self.attempts))

    def __iter__(self) -> Iterator[str]:
        yield from self._stream
