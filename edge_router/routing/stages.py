"""The decision as an ordered list of stages.

Each stage is a small object with a ``name`` and one method, ``decide(query, route)``: it reads the query
(normalised messages, routing text, the embedding once a stage computed it) and the route the stages before it
chose, and returns a ``Verdict`` (a route, or ``None`` for no opinion, with its reason, fields and timings), or
``None`` when it does not apply to this query (then nothing is recorded). A ``final`` verdict ends the
deciding; stages marked ``always`` (the context fit) still run after it. Adding a rule means writing one
class and listing it: ``EdgeRouter(stages=[MyStage(), *EdgeRouter.default_stages(...)])``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .. import defaults, settings
from ..backends.messages import Messages, has_tool_messages, routing_text, trim_to_fit
from ..defaults import Route
from ..errors import ConfigurationError, LocalModelError, PromptTooLongError
from .decision import CLOUD, LOCAL
from .threshold import ThresholdPolicy

log = logging.getLogger(__name__)


@dataclass
class Query:
    """What the stages read: the normalised conversation and the call's options. ``text`` (the routing text) is
    computed once; ``embed`` makes its embedding once, for every stage that needs it and the answer check
    (``embedded``, and its ``vector``; None until a stage asked);
    ``scores`` the scores stages left for the ones after them (by stage name). The privacy stage sets
    ``private`` (the query must stay on the device) or ``cloud_messages`` and ``redaction`` (what a cloud may
    see, and how its answer is restored). ``endpoint`` names the cloud endpoint to try first; ``routing_turns`` how
    many user turns, newest first, the routing text holds."""

    messages: Messages
    max_tokens: int
    force: Route | None = None
    cloud_share: float | None = None
    endpoint: str | None = None
    routing_turns: int = 1
    embedded: Any = None
    scores: dict[str, float] = field(default_factory=dict)
    privacy: str | None = None
    private: bool = False
    cloud_messages: Messages | None = None
    redaction: Any = None
    _text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = routing_text(self.messages, self.routing_turns)
        return self._text

    @property
    def vector(self) -> np.ndarray | None:
        return None if self.embedded is None else self.embedded.vector

    def for_cloud(self) -> Messages:
        """The conversation a cloud may see: redacted where the privacy stage said so."""
        return self.messages if self.redaction is None else self.cloud_messages

    def restored(self, completion: Any) -> Any:
        """A cloud's ``completion`` with the redacted values put back."""
        return completion if self.redaction is None else replace(completion,
                                                                 text=self.redaction.restore(completion.text))

    def embed(self, embedder: Any, *, keep_states: bool = False) -> Any:
        """The routing text's embedding, made the first time a stage asks (with its token states when
        ``keep_states``: the privacy stage's name tagger reads them from the same pass)."""
        if self.embedded is None or (keep_states and self.embedded.states is None):
            self.embedded = (embedder.embed_one(self.text, keep_states=True) if keep_states
                             else embedder.embed_one(self.text))
        return self.embedded


@dataclass(frozen=True)
class Verdict:
    """One stage's opinion: ``route`` (None: no opinion), why, and what it measured. ``mode`` renames the
    decision's mode (``forced``, ``local-only``); ``final`` ends the deciding."""

    route: Route | None
    reason: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    mode: str | None = None
    final: bool = False


@dataclass(frozen=True)
class StageRecord:
    """A stage that ran, as ``Decision.stages`` keeps it."""

    name: str
    route: Route | None
    score: float | None
    ms: float
    reason: str


@runtime_checkable
class Stage(Protocol):
    name: str

    def decide(self, query: Query, route: Route) -> Verdict | None: ...


class ForcedRoute:
    """The caller's ``force``: that route, nothing else decides."""

    name = "forced"

    def __init__(self, available: dict[Route, bool]):
        self._available = available

    def decide(self, query: Query, route: Route) -> Verdict | None:
        if query.force is None:
            return None
        forced = defaults.check_route(query.force)
        if not self._available[forced]:
            raise ConfigurationError(f"Forced to the {forced}, but no {forced} model is configured"
                                     + (f" (set {settings.CLOUD_BASE_URL_ENV})." if forced == CLOUD else "."))
        return Verdict(forced, f"forced to {forced} by the caller", mode="forced", final=True)


class NoCloud:
    """Without a cloud every query stays on the device, unscored."""

    name = "no-cloud"

    def decide(self, query: Query, route: Route) -> Verdict | None:
        return Verdict(LOCAL, "no cloud endpoint configured: every query stays on the device", mode="local-only",
                       final=True)


class ToolMessages:
    """A conversation that holds tool calls or results goes to the cloud."""

    name = "tool-messages"

    def decide(self, query: Query, route: Route) -> Verdict | None:
        if not has_tool_messages(query.messages):
            return None
        return Verdict(CLOUD, "the conversation has tool calls or results, which only the cloud model handles",
                       final=True)


class TrainedRouter:
    """Embed the routing text, score it with the router file, offload at the policy's threshold; with
    ``decides=False`` only leave the score for a stage that combines it (``PrefillProbe``)."""

    name = "router"

    def __init__(self, embedder: Any, router: Any, policy: ThresholdPolicy, *, decides: bool = True,
                 note: str | None = None):
        self.embedder, self.router, self.policy, self.decides, self.note = embedder, router, policy, decides, note

    def decide(self, query: Query, route: Route) -> Verdict | None:
        embedded = query.embed(self.embedder)
        t = time.perf_counter()
        score = float(self.router.score(embedded.vector)[0])
        query.scores[self.name] = score
        timings = {"tokenize": embedded.tokenize_ms, "embed": embedded.embed_ms,
                   "score": (time.perf_counter() - t) * 1e3}
        if not self.decides:
            note = f"; {self.note}" if self.note else ""
            return Verdict(None, f"router score {score:.3f}{note}", timings=timings, score=score,
                           fields={"score": score, "routing_tokens": embedded.n_tokens,
                                   "routing_truncated": embedded.truncated})
        threshold = self.policy.threshold(query.cloud_share)
        chosen = CLOUD if score >= threshold else LOCAL
        reasons = [f"router score {score:.3f} {'>=' if chosen == CLOUD else '<'} threshold {threshold:.3f}"]
        fields = {"score": score, "threshold": threshold, "routing_tokens": embedded.n_tokens,
                  "routing_truncated": embedded.truncated}
        realised = self.policy.record(score, chosen == CLOUD)
        if realised is not None:
            fields["cloud_share_realised"] = realised
        if embedded.truncated:
            reasons.append(f"query truncated to {embedded.n_tokens} tokens for routing")
        if self.note:
            reasons.append(self.note)
        return Verdict(chosen, "; ".join(reasons), fields=fields, timings=timings, score=score)


class UncertaintyGateStage:
    """Sample the local model k times; offload when the samples' semantic entropy is above the gate's
    threshold. Runs only on queries the stages before it kept local."""

    name = "gate"

    def __init__(self, gate: Any, local: Any):
        self.gate, self.local = gate, local

    def decide(self, query: Query, route: Route) -> Verdict | None:
        if route != LOCAL:
            return None
        gate = self.gate
        if not self.local.fits(query.messages, gate.max_tokens):
            return Verdict(CLOUD, "prompt too long to sample locally", timings={"gate": 0.0})
        t = time.perf_counter()
        try:
            entropy, se = gate.measure_entropy(self.local, query.messages)
        except LocalModelError as exc:
            log.warning("uncertainty gate failed (%s); routing to the cloud", exc)
            return Verdict(CLOUD, f"local sampling failed ({exc})", timings={"gate": (time.perf_counter() - t) * 1e3})
        chosen = CLOUD if entropy > gate.threshold else LOCAL
        reason = (f"semantic entropy {entropy:.2f} nats ({se.n_clusters} meanings in {gate.k} samples, "
                  f"{se.clusterer} clustering) {'>' if chosen == CLOUD else '<='} gate threshold {gate.threshold:.2f}")
        return Verdict(chosen, reason, timings={"gate": (time.perf_counter() - t) * 1e3}, score=entropy,
                       fields={"semantic_entropy": entropy, "gate_threshold": gate.threshold,
                               "n_clusters": se.n_clusters})


class PrefillProbe:
    """Read the local model's own state at the end of the prompt and offload when P(local answer wrong) reaches
    the threshold. With ``early_exit`` (the default) the probe is asked inside the prefill, at its layer: a
    prompt it sends away stops there (a fraction of the prefill's time), one it keeps is prefilled whole and the
    answer reuses the cache; without it every prefill is whole. With a ``combination`` policy the router's score
    (left by ``TrainedRouter(decides=False)``) and the probe's are combined first. With a ``cascade``
    (``routing.costs``) the probe runs only where the router's score lies in the band of least expected cost (the
    router decides alone outside it), and with ``by_cost`` the threshold is the probability at which the cloud
    becomes the cheaper route (prices and measured latencies) instead of the calibrated share's. Runs on queries
    still local that fit the local context."""

    name = "prefill-probe"

    def __init__(self, local: Any, probe: Any, policy: ThresholdPolicy, combination: Any = None, *,
                 early_exit: bool = True, cascade: Any = None, by_cost: bool = False):
        if by_cost and cascade is None:
            raise ConfigurationError("offloading by cost needs the cascade's prices and calibration rows.")
        self.local, self.probe, self.policy, self.combination = local, probe, policy, combination
        self.early_exit, self.cascade, self.by_cost = early_exit, cascade, by_cost

    def _scores(self, query: Query, state: Any) -> tuple[float, float, bool]:
        """(deciding score, probe score, whether the router's score was combined in)."""
        probe_score = self.probe.score(state)
        router_score = query.scores.get(TrainedRouter.name)
        combined = self.combination is not None and router_score is not None
        return (self.combination.score(router_score, probe_score) if combined else probe_score), probe_score, combined

    def _threshold(self, query: Query, n_tokens: int) -> tuple[float, str]:
        if not self.by_cost:
            return self.policy.threshold(query.cloud_share), ""
        threshold = self.cascade.offload_threshold(n_tokens, query.max_tokens)
        return threshold, " (the cloud is the cheaper route above it, at the set prices and measured latencies)"

    def _outside_band(self, query: Query, threshold: float, priced: str) -> Verdict | None:
        """The router's own verdict where its score lies outside the probe's band (None inside, or no band)."""
        router_score = query.scores.get(TrainedRouter.name)
        if self.cascade is None or router_score is None:
            return None
        keep = (None if self.by_cost else
                "quality" if self.policy.quality_target is not None and query.cloud_share is None else "share")
        band = self.cascade.band(threshold, query.max_tokens, keep=keep)
        chosen = band.route_without_probe(router_score)
        if chosen is None:
            return None
        return Verdict(chosen, f"router score {router_score:.3f} {'above' if chosen == CLOUD else 'below'} the "
                       f"prefill probe's band [{band.lo:.3f}, {band.hi:.3f}] (the band of least expected cost on "
                       f"the calibration rows{priced and ', by cost'}): decided without the probe",
                       fields={"threshold": threshold}, score=router_score, timings={"prefill_probe": 0.0})

    def decide(self, query: Query, route: Route) -> Verdict | None:
        if route != LOCAL or not self.local.fits(query.messages, query.max_tokens):
            return None
        t = time.perf_counter()
        n_tokens = len(self.local.prompt_tokens(query.messages)) if self.cascade is not None else 0
        threshold, priced = self._threshold(query, n_tokens)
        decided = self._outside_band(query, threshold, priced)
        if decided is not None:
            return decided
        asked: list[tuple[float, float, bool]] = []  # the scores the probe gave inside the prefill

        def offloads(state: Any) -> bool:
            asked.append(self._scores(query, state))
            return asked[-1][0] >= threshold
        try:
            if self.early_exit:
                state = self.local.prefill_state(query.messages, up_to_layer=self.probe.layer, stop_when=offloads)
            else:
                state = self.local.prefill_state(query.messages)
        except LocalModelError as exc:
            log.warning("prefill probe failed (%s); the query stays with the stages before it", exc)
            return Verdict(None, f"prefill probe failed ({exc})", timings={"prefill_probe": 0.0})
        score, probe_score, combined = asked[-1] if asked else self._scores(query, state)
        query.scores[self.name] = score  # the deciding score, for the stages after it
        chosen = CLOUD if score >= threshold else LOCAL
        ms = (time.perf_counter() - t) * 1e3
        if self.cascade is not None and self.early_exit:
            self.cascade.meter.observe_probe(ms, n_tokens, stopped=chosen == CLOUD)
        what = (f"router and prefill probe combined: P(only the cloud answer right) {score:.3f} (probe "
                f"{probe_score:.3f} at layer {self.probe.layer})" if combined else
                f"prefill probe: P(local answer wrong) {score:.3f} (layer {self.probe.layer})")
        fields = {"state_score": probe_score, "state_threshold": threshold}
        if combined:
            fields["threshold"] = threshold
        return Verdict(chosen, f"{what} {'>=' if chosen == CLOUD else '<'} threshold {threshold:.3f}{priced}",
                       fields=fields, timings={"prefill_probe": ms}, score=score)


class ContextFit:
    """A local route whose prompt and answer do not fit the local context goes to the cloud; where the query
    must stay on the device (no cloud, or forced local) its oldest turns are dropped until it fits (system
    prompt and last user message kept; recorded), or ``PromptTooLongError`` says why it cannot be answered.
    Never a cloud call for such a query."""

    name = "context-fit"
    always = True

    def __init__(self, local: Any, cloud_available: bool):
        self.local, self.cloud_available = local, cloud_available

    def decide(self, query: Query, route: Route) -> Verdict | None:
        if route != LOCAL or self.local.fits(query.messages, query.max_tokens):
            return None
        too_long = f"prompt plus {query.max_tokens} answer tokens exceed the local context of {self.local.n_ctx}"
        if self.cloud_available and query.force != LOCAL and not query.private:
            return Verdict(CLOUD, too_long)
        why = ("it is forced to the device" if query.force == LOCAL else
               "the privacy policy keeps it on the device" if query.private else "no cloud endpoint is configured")
        trimmed = trim_to_fit(query.messages, lambda m: self.local.fits(m, query.max_tokens))
        if trimmed is None:
            raise PromptTooLongError(f"The {too_long} tokens, even without earlier turns, and {why}: shorten the "
                                     "last message, lower max_tokens, or use a larger n_ctx.")
        query.messages, dropped = trimmed
        return Verdict(LOCAL, f"{too_long}; {why}, so the {dropped} oldest messages were dropped to fit",
                       fields={"trimmed_messages": dropped})
