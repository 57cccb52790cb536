"""What the caller gets back: the routing ``Decision`` and the ``Answer``."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

from ..backends.completions import Usage
from ..defaults import Mode, Route

LOCAL: Route = "local"
CLOUD: Route = "cloud"


class FallbackKind(str, Enum):
    """Why an answer did not come from the decided route (the human message is ``Decision.fallback``)."""

    CLOUD_FAILED = "cloud_failed"
    CLOUD_SKIPPED = "cloud_skipped"  # the circuit breaker is open
    CLOUD_STREAM_CUT = "cloud_stream_cut"  # the device finished a cut cloud stream
    LOCAL_FAILED = "local_failed"
    NO_LOCAL = "no_local"


@dataclass(frozen=True)
class Decision:
    """Which way a query goes, and why.

    ``route`` is where the query was sent (the delivered route) and ``decided``
    where the decision meant it to go; they differ after a fallback. ``mode`` says
    what decided it: ``router`` (trained scorer), ``gate`` (semantic entropy of
    local samples), ``router+gate``, ``forced``, or ``local-only`` (no cloud is
    configured, so nothing was scored). ``score``/``threshold`` are the router's,
    ``semantic_entropy``/``gate_threshold`` the gate's, ``state_score``/``state_threshold`` the prefill probe's
    (P(local answer wrong) from the local model's state; with the combination policy ``threshold`` is the
    combined score's), ``check_score``/``check_threshold``/``check_tokens``
    the answer check's (P(local answer wrong) after that many held tokens; None where unused).
    ``fallback`` names what went wrong when the answer did not come from the
    decided route (``fallback_kind`` says the same as a ``FallbackKind``), and
    ``degraded`` is True when the local model answered in place of the cloud.
    ``timings_ms`` has ``tokenize``, ``embed``, ``score``, ``gate`` and ``total`` (before the answer), and with
    the answer check ``check_hold`` (generating the held tokens) and ``check`` (scoring them).
    ``cloud_share_realised`` is the share of recent queries sent to the cloud
    when an online budget is on. ``trimmed_messages`` counts the oldest messages dropped so that a query that
    must stay on the device fits its context. ``privacy`` names the entity types (and ``rule:<name>`` rules) the
    privacy stage found, never their values; mode ``privacy`` means it kept the query on the device.
    ``stages`` lists every stage that ran, in order, each as a dict with its
    ``name``, ``route`` (None: no opinion), ``score``, ``ms`` and ``reason``. With several cloud endpoints,
    ``cloud_attempts`` lists those a cloud answer tried, in order, each with its ``endpoint``, the ``error`` that
    passed the request on (None for the one that answered) and ``skipped`` (its circuit breaker was open).
    ``id`` names the decision (and its answer) for ``EdgeRouter.feedback``.
    """

    route: Route
    mode: Mode | str
    reason: str
    decided: Route | None = None
    score: float | None = None
    threshold: float | None = None
    semantic_entropy: float | None = None
    gate_threshold: float | None = None
    n_clusters: int | None = None
    state_score: float | None = None
    state_threshold: float | None = None
    check_score: float | None = None
    check_threshold: float | None = None
    check_tokens: int | None = None
    routing_tokens: int | None = None
    routing_truncated: bool = False
    trimmed_messages: int = 0
    privacy: tuple[str, ...] = ()
    cloud_share_realised: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    models: dict[str, str | None] = field(default_factory=dict)
    stages: tuple[dict[str, Any], ...] = ()
    cloud_attempts: tuple[dict[str, Any], ...] = ()
    fallback: str | None = None
    fallback_kind: FallbackKind | None = None
    degraded: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.decided is None:
            object.__setattr__(self, "decided", self.route)

    def with_fallback(self, route: Route, kind: FallbackKind, reason: str, *, degraded: bool) -> Decision:
        """This decision after a fallback to ``route``."""
        return replace(self, route=route, fallback=reason, fallback_kind=kind, degraded=degraded)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fallback_kind"] = self.fallback_kind.value if self.fallback_kind else None
        return out


@dataclass(frozen=True)
class Answer:
    """An answer with the decision that produced it, its usage, cost and time."""

    text: str
    decision: Decision
    model: str
    usage: Usage | None
    cost_usd: float | None
    answer_ms: float
    finish_reason: str = "stop"

    @property
    def route(self) -> str:
        return self.decision.route

    @property
    def degraded(self) -> bool:
        return self.decision.degraded

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            **self.decision.to_dict(),
            "answered_by": self.model,
            "usage": self.usage.to_dict() if self.usage else None,
            "cost_usd": self.cost_usd,
            "answer_ms": self.answer_ms,
            "finish_reason": self.finish_reason,
        }
