"""``EdgeRouter``: decide local or cloud for each query, answer, and fall back without losing anything.

The decision is a pipeline of stages (``routing.stages``): the caller's forced route, no cloud configured, tool
messages, the trained router (embed the routing text, score it, offload at the ``ThresholdPolicy``'s
threshold), the uncertainty gate (semantic entropy of local samples, on queries still local), and the
context fit. After them, the answer check (optional) holds the local answer's first tokens back and judges
them (``AnswerStream``).

Fallbacks (``Routes``): a cloud failure (unreachable, timeout, error after retries, malformed answer) gives
the local answer marked ``degraded``; a local failure goes to the cloud; when both fail,
``AllRoutesFailedError`` names both causes. Each fallback is logged and recorded in the returned decision, and
every decision can be appended to a JSONL trace.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import replace
from typing import Any, Sequence

from .. import defaults, settings
from ..backends.cloud_llm import CloudLLM
from ..backends.completions import Prices, Sampling
from ..backends.embedder import Embedder
from ..backends.local_llm import LocalLLM
from ..backends.messages import Messages, normalize
from ..backends.router_model import RouterModel
from ..config import RouterSettings
from ..errors import ConfigurationError, InvalidInputError
from ..learning import learn as learned
from ..learning.shadow import ShadowLabeller
from ..learning.store import DecisionStore
from ..privacy.policy import MODES as PRIVACY_MODES
from ..privacy.policy import PrivacyPolicy
from ..uncertainty import answer_check as checking
from ..uncertainty.entailment import clusterer_named
from ..uncertainty.semantic_entropy import UncertaintyGate
from ..uncertainty.state_probe import StateProbe
from . import building
from .answer_stream import AnswerStream, checks
from .breaker import CircuitBreaker
from .conversation import FollowUp
from .costs import Cascade
from .decision import LOCAL, Answer, Decision
from .pipeline import Pipeline
from .policy import CombinationPolicy
from .privacy_stage import PrivacyStage
from .routes import FAILURES, Routes, answer_of, both_failed
from .stages import (
    ContextFit,
    ForcedRoute,
    NoCloud,
    PrefillProbe,
    Query,
    Stage,
    ToolMessages,
    TrainedRouter,
    UncertaintyGateStage,
)
from .threshold import ThresholdPolicy
from .trace import TraceWriter

log = logging.getLogger(__name__)


class EdgeRouter:
    """Routes chat queries between a ``LocalLLM`` and a ``CloudLLM`` (or several: a list is a fallback chain, each
    endpoint behind its own circuit breaker, and a call may name the one to try first with ``endpoint``).

    The router offloads when its score reaches ``threshold``, or the threshold its card calibrated for
    ``cloud_share`` (default ``defaults.CLOUD_SHARE``); with ``budget_window`` the
    threshold keeps following that share over the last N decisions. ``breaker``
    skips the cloud for a cool-down after consecutive failures (default: 3
    failures, 30 s); ``answer_check`` judges the start of each local answer that
    could still go to the cloud; ``stages`` replaces the default decision stages
    (``default_stages``) with your own list; ``routing_turns`` is how many user turns the router reads and
    ``follow_up_margin`` how confident it must be to move a follow-up off the route of the answer it follows
    (``routing.conversation``); ``cascade`` (``routing.costs``) runs the prefill probe only where it is worth its
    cost, and ``offload_by_cost`` offloads where the cloud is the cheaper route at its prices and the measured
    latencies; ``close()`` or a ``with`` block frees both models.
    """

    def __init__(
        self,
        *,
        local: LocalLLM | None = None,
        cloud: CloudLLM | Sequence[CloudLLM] | None = None,
        embedder: Embedder | None = None,
        router: RouterModel | None = None,
        threshold: float | None = None,
        cloud_share: float | None = None,
        budget_window: int | None = None,
        quality_target: float | None = None,
        gate: UncertaintyGate | None = None,
        max_tokens: int = defaults.MAX_TOKENS,
        trace_path: str | os.PathLike | None = None,
        breaker: CircuitBreaker | None = None,
        answer_check: checking.AnswerCheck | None = None,
        state_probe: StateProbe | None = None,
        combination: CombinationPolicy | None = None,
        cascade: Cascade | None = None,
        offload_by_cost: bool = False,
        privacy: PrivacyPolicy | None = None,
        stages: Sequence[Stage] | None = None,
        routing_turns: int = defaults.ROUTING_TURNS,
        follow_up_margin: float = defaults.FOLLOW_UP_MARGIN,
        store: DecisionStore | str | os.PathLike | None = None,
        shadow_share: float = 0.0,
        shadow_budget_usd: float = defaults.SHADOW_BUDGET_USD,
        shadow_clusterer: Any = None,
    ):
        clouds = list(cloud) if isinstance(cloud, (list, tuple)) else [] if cloud is None else [cloud]
        cloud = clouds[0] if clouds else None
        building.check_parts(local=local, cloud=cloud, embedder=embedder, router=router, gate=gate,
                             answer_check=answer_check, state_probe=state_probe, combination=combination,
                             stages=stages)
        self.store = store if store is None or isinstance(store, DecisionStore) else DecisionStore(store)
        self.base_router = router
        router = learned.active(self.store, router)  # the version learned from this app's feedback, if adopted
        self._threshold_args = {"threshold": threshold, "cloud_share": cloud_share, "budget_window": budget_window,
                                "quality_target": quality_target}
        # With the prefill probe, threshold, cloud_share and quality_target apply to the combined score.
        self.policy = ThresholdPolicy(combination or router, **self._threshold_args)
        self.state_probe, self.combination = state_probe, combination
        self.cascade, self.offload_by_cost = cascade, offload_by_cost
        self.privacy = PrivacyPolicy() if privacy is None else privacy
        self.local = local
        self.cloud, self.clouds = cloud, clouds
        self.breaker = breaker or CircuitBreaker()  # the first endpoint's; each other one gets its own
        self.embedder = embedder
        self.router = router
        self.gate = gate
        self.answer_check = answer_check
        self.max_tokens, self.routing_turns, self.follow_up_margin = max_tokens, routing_turns, follow_up_margin
        trace = trace_path if trace_path is not None else settings.trace_path()
        self.routes = Routes(local, clouds, self.breaker, TraceWriter(trace) if trace else None, store=self.store,
                             embedder_id=embedder.id if embedder is not None else None,
                             meter=cascade.meter if cascade is not None else None)
        self._default_stages = stages is None
        if shadow_share:
            if self.store is None or self.routes.clouds is None:
                raise ConfigurationError("shadow labels ask the cloud again and store the agreement: they need a "
                                         "cloud and store=PATH.")
            clusterer = shadow_clusterer or clusterer_named("embedding" if embedder else "exact", embedder)
            self.routes.shadow = ShadowLabeller(self.store, self.routes.clouds, clusterer, share=shadow_share,
                                                budget_usd=shadow_budget_usd, max_tokens=max_tokens)
        self.pipeline = Pipeline(self.default_stages() if stages is None else stages, self.mode)

    def default_stages(self) -> list[Stage]:
        """The decision's stages for this router's parts, in order: privacy first, before anything can reach the
        network (with no cloud nothing can, and it is left out)."""
        stages: list[Stage] = []
        if self.cloud is not None:
            stages.append(PrivacyStage(self.privacy, local_available=self.local is not None, embedder=self.embedder))
        stages.append(ForcedRoute({"local": self.local is not None, "cloud": self.cloud is not None}))
        if self.cloud is None:
            stages.append(NoCloud())
        else:
            stages.append(ToolMessages())
            if self.router is not None:
                stages.append(TrainedRouter(self.embedder, self.router, self.policy,
                                            decides=self.state_probe is None, note=self._router_note()))
            if self.state_probe is not None:
                stages.append(PrefillProbe(self.local, self.state_probe, self.policy, self.combination,
                                           cascade=self.cascade, by_cost=self.offload_by_cost))
            if self.router is not None and self.follow_up_margin > 0:
                stages.append(FollowUp(self.routes.turns, self.policy, self.follow_up_margin))
            if self.gate is not None:
                stages.append(UncertaintyGateStage(self.gate, self.local))
        if self.local is not None:
            stages.append(ContextFit(self.local, cloud_available=self.cloud is not None))
        return stages

    def _router_note(self) -> str | None:
        """What every decision says when the router was trained on another local model's answers (logged once)."""
        trained_for = getattr(self.router, "local_model", None)
        if not trained_for or self.local is None or trained_for == self.local.id:
            return None
        note = (f"the router was trained on {trained_for}'s answers, not {self.local.id}'s: train one for this model "
                "(edge-router label, train, calibrate) or decide with the gate (mode='gate')")
        log.warning(note)
        return note

    @property
    def threshold(self) -> float:
        """The router's fixed (or calibrated) threshold."""
        return self.policy.fixed

    @property
    def budget(self):
        """The online cloud budget, when ``budget_window`` is set."""
        return self.policy.budget

    @classmethod
    def from_settings(cls, config: RouterSettings, *, cloud: CloudLLM | Sequence[CloudLLM] | None = None,
                      cloud_from_env: bool = True,
                      breaker: CircuitBreaker | None = None, stages: Sequence[Stage] | None = None) -> EdgeRouter:
        """Build the router ``config`` describes (``RouterSettings``); the cloud from ``EDGE_ROUTER_CLOUD_*`` when
        ``cloud`` is not given and ``cloud_from_env``."""
        return cls(**building.parts(config, cloud=cloud, cloud_from_env=cloud_from_env), stages=stages,
                   breaker=breaker or CircuitBreaker(config.breaker_failures, config.breaker_cool_down_s))

    @classmethod
    def from_defaults(cls, *, cloud: CloudLLM | None = None, cloud_from_env: bool = True,
                      breaker: CircuitBreaker | None = None, settings_file: str | os.PathLike | None = None,
                      **values: Any) -> EdgeRouter:
        """The default local model and embedder; the cloud from ``EDGE_ROUTER_CLOUD_*`` if set.

        ``values`` are ``RouterSettings`` fields (``mode``, ``router_path``, ``threshold``, ``cloud_share``,
        ``local_model``, ``n_gpu_layers``, ``check``, ...; see ``edge_router.config``), checked before any model
        loads; ``settings_file`` is a TOML file of the same fields, under the values given here.
        ``cloud_prices`` may be a ``Prices``. ``cloud_from_env=False`` ignores the environment's cloud (a query
        forced local needs no cloud, even a half-configured one).
        """
        if isinstance(values.get("cloud_prices"), Prices):
            prices = values["cloud_prices"]
            values["cloud_prices"] = (prices.input_per_million, prices.output_per_million)
        if values.get("router_path") is not None:
            values["router_path"] = str(values["router_path"])
        config = (RouterSettings.from_toml(settings_file, **values) if settings_file
                  else RouterSettings.from_env(**values))
        return cls.from_settings(config, cloud=cloud, cloud_from_env=cloud_from_env, breaker=breaker)

    @property
    def mode(self) -> str:
        parts = (("router", self.router), ("prefill-probe", self.state_probe), ("gate", self.gate),
                 ("check", self.answer_check))
        return "+".join(name for name, part in parts if part)

    def model_ids(self) -> dict[str, str | None]:
        """The id of each model this router uses (None where absent)."""
        return {
            "embedder": self.embedder.id if self.embedder else None,
            "router": self.router.id if self.router else None,
            "local": self.local.id if self.local else None,
            "cloud": self.cloud.id if self.cloud else None,
        }

    def _decide(self, messages: Messages, force: str | None, max_tokens: int, cloud_share: float | None = None,
                privacy: str | None = None, endpoint: str | None = None) -> tuple[Decision, Query]:
        if privacy is not None and privacy not in PRIVACY_MODES:
            raise InvalidInputError(f"privacy must be one of {', '.join(PRIVACY_MODES)}, not {privacy!r}.")
        if endpoint is not None:  # an unknown name is refused before anything runs
            if self.routes.clouds is None:
                raise InvalidInputError(f"endpoint {endpoint!r} names a cloud endpoint, and none is configured.")
            self.routes.clouds.order(endpoint)
        query = Query(messages, max_tokens, force=force, cloud_share=cloud_share, privacy=privacy, endpoint=endpoint,
                      routing_turns=self.routing_turns)
        return self.routes.available(self.pipeline.decide(query, self.model_ids())), query

    def route(self, messages: Messages | str, *, force: str | None = None, max_tokens: int | None = None,
              cloud_share: float | None = None, privacy: str | None = None) -> Decision:
        """The routing decision for ``messages`` without answering them."""
        messages = normalize(messages)
        decision, _ = self._decide(messages, force, self._max_tokens(max_tokens), cloud_share, privacy)
        self.routes.record("route", messages, decision)
        return decision

    def _max_tokens(self, max_tokens: int | None) -> int:
        """The call's answer length limit: this router's when None, else a positive integer or a clear error."""
        if max_tokens is None:
            return self.max_tokens
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be a positive integer, not {max_tokens!r}.")
        return max_tokens

    def model(self, route: str):
        """The model that answers on ``route`` (None when that side is not configured); the cloud behind its
        circuit breaker."""
        return self.routes.model(route)

    def close(self) -> None:
        """Free both models (the local model's native memory, the cloud's connections)."""
        for model in (self.local, *self.clouds):
            if model is not None:
                model.close()

    def __enter__(self) -> EdgeRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chat(self, messages: Messages | str, *, max_tokens: int | None = None, force: str | None = None,
             cloud_share: float | None = None, sampling: Sampling | None = None, privacy: str | None = None,
             endpoint: str | None = None) -> Answer:
        """Route and answer ``messages``; the ``Answer`` carries its ``Decision``.

        ``force`` skips the decision (never past the privacy policy); ``cloud_share`` uses the router's calibrated
        threshold for that share on this call only; ``sampling`` (temperature, top_p, seed, stop, penalties)
        applies on whichever route answers; ``privacy`` sets the privacy mode for this call; ``endpoint`` names the
        cloud endpoint tried first if the query goes to the cloud.
        """
        messages = normalize(messages)
        max_tokens = self._max_tokens(max_tokens)
        decision, query = self._decide(messages, force, max_tokens, cloud_share, privacy, endpoint)
        messages = query.messages  # trimmed where a query that must stay local did not fit
        if checks(self.answer_check, self.routes, decision):  # the check reads the answer's first tokens
            return self._checked_answer(query, decision, max_tokens, sampling)
        start = time.perf_counter()
        try:
            completion = self._answer_on(decision.route, query, max_tokens, sampling)
        except FAILURES[decision.route] as first:
            decision = self.routes.fall_back(decision, first)
            try:
                completion = self._answer_on(decision.route, query, max_tokens, sampling)
            except FAILURES[decision.route] as second:
                raise both_failed(first, second) from second
        answer = answer_of(completion, decision, start)
        self.routes.record("answer", messages, answer, vector=query.vector)
        return answer

    def feedback(self, answer: Answer | Decision | str, *, local_ok: bool) -> None:
        """Whether the device's answer to that query is (or would have been) good enough: a label in the store, for
        ``learn``. ``answer`` is an ``Answer``, its ``Decision`` or the decision's id."""
        if self.store is None:
            raise ConfigurationError("feedback is kept in the decision store: build the router with store=PATH "
                                     "(from_defaults(store=...), --store PATH).")
        ident = answer if isinstance(answer, str) else getattr(answer, "decision", answer).id
        self.store.label(ident, local_ok)

    def learn(self, *, tolerance: float = learned.TOLERANCE) -> dict:
        """A new router version from the store's labels (``learning.learn``); used at once when adopted. Returns its
        card: before/after on held-out labels, the label test split check, adopted or why not."""
        if self.store is None or self.base_router is None:
            raise ConfigurationError("learn() updates the trained router from the decision store: build the router "
                                     "with a router and store=PATH.")
        card = learned.learn(self.store, self.base_router, self.embedder, tolerance=tolerance)
        if card["adopted"]:
            self.router = learned.active(self.store, self.base_router)
            self.policy = ThresholdPolicy(self.combination or self.router, **self._threshold_args)
            if self._default_stages:
                self.pipeline = Pipeline(self.default_stages(), self.mode)
        return card

    def _checked_answer(self, query: Query, decision: Decision, max_tokens: int, sampling: Sampling | None) -> Answer:
        """The answer of a decision the answer check watches: streamed to the end, its first tokens judged."""
        with self._stream(query.messages, decision, max_tokens, sampling, query) as stream:
            for _ in stream:
                pass
        assert stream.answer is not None
        return stream.answer

    def _answer_on(self, route: str, query: Query, max_tokens: int, sampling: Sampling | None):
        """One answer on ``route``; a cloud gets the redacted conversation and its answer is restored."""
        if route == LOCAL:
            return self.local.chat(query.messages, max_tokens=max_tokens, sampling=sampling)
        return query.restored(self.routes.clouds.chat(query.for_cloud(), max_tokens=max_tokens, sampling=sampling,
                                                      endpoint=query.endpoint))

    def stream(self, messages: Messages | str, *, max_tokens: int | None = None, force: str | None = None,
               cloud_share: float | None = None, sampling: Sampling | None = None,
               privacy: str | None = None, endpoint: str | None = None) -> AnswerStream:
        """Route now; iterate the result for the answer's text pieces (``close()`` it, or use it in a ``with``
        block, to stop early)."""
        messages = normalize(messages)
        max_tokens = self._max_tokens(max_tokens)
        decision, query = self._decide(messages, force, max_tokens, cloud_share, privacy, endpoint)
        return self._stream(query.messages, decision, max_tokens, sampling, query)

    def _check_for(self, decision: Decision) -> checking.AnswerCheck | None:
        """The answer check as ``decision`` uses it: offloading by cost, at the decision's price threshold (its
        P(local answer wrong) taken for P(only the cloud answer right))."""
        if self.answer_check is None or not self.offload_by_cost or decision.threshold is None:
            return self.answer_check
        return replace(self.answer_check, threshold=decision.threshold)

    def _stream(self, messages: Messages, decision: Decision, max_tokens: int, sampling: Sampling | None,
                query: Query) -> AnswerStream:
        return AnswerStream(self.routes, messages, decision, max_tokens, sampling,
                            answer_check=self._check_for(decision), embedder=self.embedder,
                            query_vector=query.vector, cloud_messages=query.cloud_messages,
                            redaction=query.redaction, endpoint=query.endpoint)


def __getattr__(name: str):
    """Names that moved out of this module, with a ``DeprecationWarning``."""
    moved = {"shipped_router": "edge_router.files.shipped", "shipped_probe": "edge_router.files.shipped",
             "load_answer_check": "edge_router.uncertainty.answer_check"}
    if name not in moved:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    warnings.warn(f"edge_router.routing.runtime.{name} moved to {moved[name]}.{name}; import it from there.",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(moved[name]), name)
