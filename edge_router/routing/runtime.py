"""``EdgeRouter``: decide local or cloud for each query, answer, and fall back without losing anything.

Two ways to decide, usable alone or together:

- the trained router (before generation): embed the last user message, score it
  with a router file, send it to the cloud when the score reaches ``threshold``;
- the uncertainty gate: sample the local model k times and send the query to the
  cloud when the semantic entropy of the samples is above the gate's threshold.
  After a router that chose local, the gate can still offload.

And after either, the answer check (optional): the local answer starts at once, its
first tokens are held back and scored from their own log-probabilities and entropies;
a confident start is flushed and the answer continues locally, an unsure one is
dropped and the cloud answers.

Fallbacks: a cloud failure (unreachable, timeout, error after retries, malformed
answer) gives the local answer marked ``degraded``; a local failure goes to the
cloud; when both fail, ``AllRoutesFailedError`` names both causes. Each fallback
is logged and recorded in the returned decision, and every decision can be
appended to a JSONL trace.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import defaults, settings
from ..backends.chat_model import ChatModel
from ..backends.cloud_llm import CloudLLM
from ..backends.completions import Completion, Prices, Sampling
from ..backends.embedder import Embedder
from ..backends.local_llm import LocalLLM
from ..backends.messages import Messages, has_tool_messages, normalize, routing_text
from ..backends.router_model import RouterModel, trained_on
from ..defaults import Mode, Route
from ..errors import (
    AllRoutesFailedError,
    CloudCircuitOpenError,
    CloudError,
    CloudResponseError,
    ConfigurationError,
    InvalidInputError,
    LocalModelError,
    PromptTooLongError,
)
from ..files import registry
from ..uncertainty.answer_check import AnswerCheck, AnswerProbe
from ..uncertainty.entailment import clusterer_named
from ..uncertainty.semantic_entropy import UncertaintyGate
from .breaker import CircuitBreaker, GuardedCloud
from .budget import CloudBudget
from .decision import CLOUD, LOCAL, Answer, Decision, FallbackKind
from .trace import TraceWriter

log = logging.getLogger(__name__)

SHIPPED_ROUTER = "routers/default.onnx"
SHIPPED_PROBE = "probes/answer_check.json"


def _shipped(member: str) -> Path | None:
    from importlib import resources

    try:
        path = Path(str(resources.files("edge_router_models").joinpath(member)))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def shipped_router() -> Path | None:
    """The router file this package ships (``models/routers/default.onnx``), if there is one."""
    return _shipped(SHIPPED_ROUTER)


def shipped_probe() -> Path | None:
    """The answer check's probe this package ships (``models/probes/answer_check.json``), if there is one."""
    return _shipped(SHIPPED_PROBE)


def load_answer_check(probe_path: str | os.PathLike | None = None, *, threshold: float | None = None,
                      cloud_share: float | None = None) -> AnswerCheck:
    """The answer check with ``probe_path`` (default: the shipped probe), offloading at ``threshold`` or at the
    probe's calibrated threshold for ``cloud_share`` (default ``defaults.CHECK_SHARE``)."""
    if threshold is not None and cloud_share is not None:
        raise ConfigurationError("give the answer check either a threshold or a cloud share, not both.")
    path = Path(probe_path) if probe_path else shipped_probe()
    if path is None:
        raise ConfigurationError("No answer-check probe ships with this package; pass a probe file (probe_path=, "
                                 "--probe PATH) made by models/probes/build.py.")
    probe = AnswerProbe.load(path)
    if threshold is None:
        threshold = probe.threshold_for_share(defaults.check_cloud_share(
            defaults.CHECK_SHARE if cloud_share is None else cloud_share))
    return AnswerCheck(probe, threshold)


_FAILURES = {LOCAL: (LocalModelError, PromptTooLongError), CLOUD: (CloudError,)}


class EdgeRouter:
    """Routes chat queries between a ``LocalLLM`` and a ``CloudLLM``.

    The router offloads when its score reaches ``threshold`` (default 0.5), or the
    threshold its card calibrated for ``cloud_share``; with ``budget_window`` the
    threshold keeps following that share over the last N decisions. ``breaker``
    skips the cloud for a cool-down after consecutive failures (default: 3
    failures, 30 s); ``answer_check`` judges the start of each local answer that
    could still go to the cloud; ``close()`` or a ``with`` block frees both models.
    """

    def __init__(
        self,
        *,
        local: LocalLLM | None = None,
        cloud: CloudLLM | None = None,
        embedder: Embedder | None = None,
        router: RouterModel | None = None,
        threshold: float | None = None,
        cloud_share: float | None = None,
        budget_window: int | None = None,
        gate: UncertaintyGate | None = None,
        max_tokens: int = defaults.MAX_TOKENS,
        trace_path: str | os.PathLike | None = None,
        breaker: CircuitBreaker | None = None,
        answer_check: AnswerCheck | None = None,
    ):
        if local is None and cloud is None:
            raise ConfigurationError("EdgeRouter needs a local model, a cloud model or both.")
        if router is None and gate is None and cloud is not None:
            raise ConfigurationError("With a cloud, EdgeRouter needs a router file (router=), an uncertainty gate "
                                     "(gate=) or both to decide.")
        if router is not None and embedder is None:
            raise ConfigurationError("A router needs the embedder it was trained with: pass embedder=.")
        if gate is not None and local is None:
            raise ConfigurationError("The uncertainty gate samples the local model: pass local=.")
        if answer_check is not None and (local is None or cloud is None):
            raise ConfigurationError("The answer check judges local answers that could go to the cloud: pass "
                                     "both local= and cloud=.")
        if answer_check is not None and answer_check.probe.uses_embedding and (
                embedder is None or embedder.id != answer_check.probe.embedder_id):
            raise ConfigurationError(f"This answer probe reads {answer_check.probe.embedder_id} query embeddings: "
                                     "pass embedder= with that embedder.")
        if threshold is not None and cloud_share is not None:
            raise ConfigurationError("give either a threshold or a target cloud_share, not both.")
        if cloud_share is not None:
            if router is None:
                raise ConfigurationError("a target cloud_share needs a calibrated router (router=).")
            threshold = router.threshold_for_share(cloud_share)
        threshold = defaults.THRESHOLD if threshold is None else threshold
        if not 0.0 <= threshold <= 1.0:
            raise ConfigurationError(f"threshold is a probability in [0, 1], not {threshold}.")
        if budget_window is not None and cloud_share is None:
            raise ConfigurationError("budget_window keeps a target cloud_share: pass cloud_share= too.")
        self.budget = (CloudBudget(cloud_share, initial_threshold=threshold, window=budget_window)
                       if budget_window is not None else None)
        self.local = local
        self.cloud = cloud
        self.breaker = breaker or CircuitBreaker()
        self._guarded_cloud = GuardedCloud(cloud, self.breaker) if cloud is not None else None
        self.embedder = embedder
        self.router = router
        self.threshold = threshold
        self.gate = gate
        self.answer_check = answer_check
        self.max_tokens = max_tokens
        trace = trace_path if trace_path is not None else settings.trace_path()
        self._trace = TraceWriter(trace) if trace else None

    @classmethod
    def from_defaults(
        cls,
        *,
        mode: Mode | None = None,
        router_path: str | os.PathLike | None = None,
        threshold: float | None = None,
        cloud_share: float | None = None,
        cloud: CloudLLM | None = None,
        local_model: str | os.PathLike | None = None,
        threads: int | None = None,
        n_ctx: int = defaults.N_CTX,
        repeat_penalty: float = defaults.REPEAT_PENALTY,
        embedder_name: str | None = None,
        gate_clusterer: str = defaults.CLUSTERER,
        gate_threshold: float = defaults.GATE_THRESHOLD,
        gate_k: int = defaults.GATE_K,
        cloud_deadline_s: float | None = defaults.CLOUD_DEADLINE_S,
        cloud_first_byte_s: float | None = defaults.CLOUD_FIRST_BYTE_S,
        cloud_prices: Prices | None = None,
        cloud_from_env: bool = True,
        check: bool = False,
        check_share: float | None = None,
        check_threshold: float | None = None,
        probe_path: str | os.PathLike | None = None,
        **kwargs,
    ) -> EdgeRouter:
        """The default local model and embedder; the cloud from ``EDGE_ROUTER_CLOUD_*`` if set.

        ``mode`` is ``router`` (a trained router: ``router_path`` or the one this
        package ships), ``gate`` (semantic entropy of local samples) or
        ``router+gate``; by default ``router`` when a router is available, else
        ``gate``. ``local_model`` is a registry name or a GGUF path (default: the registry's local model).
        ``embedder_name`` picks a registered embedder (the router must be
        trained on it); by default the embedder the router file names, else the registry's default.
        ``gate_clusterer`` is the gate's clustering backend: ``exact`` (the default,
        chosen by measurement in benchmarks/results/se_backends.md), ``embedding``, ``nli`` (the shipped
        cross-encoder) or ``nli-embedding``; ``gate_threshold`` (nats) and ``gate_k`` (samples) set the gate.
        ``cloud_deadline_s`` and ``cloud_first_byte_s`` bound the cloud built from the environment, and
        ``cloud_prices`` (else ``EDGE_ROUTER_CLOUD_PRICES``) prices it; ``cloud_from_env=False`` ignores those
        settings (a query forced local needs no cloud, even a half-configured one).
        ``check`` turns the answer check on (with a cloud): the probe this package ships (or ``probe_path``),
        offloading at ``check_threshold`` (P(local answer wrong)) or at the threshold its calibration set for
        ``check_share`` (default ``defaults.CHECK_SHARE``).
        """
        router_file = Path(router_path) if router_path else shipped_router()
        mode = mode or ("router" if router_file else "gate")
        if mode not in defaults.MODES:
            raise ConfigurationError(f"mode must be one of {', '.join(defaults.MODES)}, not {mode!r}.")
        if mode == "gate" and (threshold is not None or cloud_share is not None):
            raise ConfigurationError("threshold and cloud_share (--threshold, --cloud-share) set the router; the "
                                     "gate's threshold is gate_threshold (--gate-threshold).")
        if "router" in mode and router_file is None:
            raise ConfigurationError("No router file: pass a router file (router_path=, or --router PATH) or use the "
                                     "gate mode (mode='gate', or --mode gate).")
        if cloud is None and cloud_from_env and settings.cloud_setting(settings.CLOUD_BASE_URL_ENV):
            env_prices = settings.cloud_prices()
            cloud = CloudLLM(deadline_s=cloud_deadline_s, first_byte_s=cloud_first_byte_s,
                             prices=cloud_prices or (Prices(*env_prices) if env_prices else None))
        if cloud is None:
            log.info("no cloud endpoint configured (%s); every query stays local", settings.CLOUD_BASE_URL_ENV)
        local = LocalLLM(local_model, threads=threads, n_ctx=n_ctx, repeat_penalty=repeat_penalty)
        if embedder_name is None and router_file is not None and "router" in mode:
            named = trained_on(router_file)
            embedder_name = named if named in {s.name for s in registry.specs_for_role("embedder")} else None
        embedder = Embedder(name=embedder_name)
        clusterer = clusterer_named(gate_clusterer, embedder) if "gate" in mode else None
        router = RouterModel(router_file, embedder_id=embedder.id, dim=embedder.dim) if "router" in mode else None
        gate = UncertaintyGate(clusterer, k=gate_k, threshold=gate_threshold) if clusterer is not None else None
        answer_check = None
        if not check and (check_share is not None or check_threshold is not None or probe_path is not None):
            raise ConfigurationError("check_share, check_threshold and probe_path (--check-share, --check-threshold, "
                                     "--probe) set the answer check: turn it on with check=True (--check).")
        if check and cloud is None:
            log.info("no cloud endpoint configured: the answer check is off (nothing to hand a query to)")
        elif check:
            answer_check = load_answer_check(probe_path, threshold=check_threshold, cloud_share=check_share)
        return cls(
            local=local, cloud=cloud, embedder=embedder, router=router, threshold=threshold,
            cloud_share=cloud_share, gate=gate, answer_check=answer_check, **kwargs,
        )

    @property
    def mode(self) -> str:
        parts = (("router", self.router), ("gate", self.gate), ("check", self.answer_check))
        return "+".join(name for name, part in parts if part)

    def model_ids(self) -> dict[str, str | None]:
        """The id of each model this router uses (None where absent)."""
        return {
            "embedder": self.embedder.id if self.embedder else None,
            "router": self.router.id if self.router else None,
            "local": self.local.id if self.local else None,
            "cloud": self.cloud.id if self.cloud else None,
        }

    def _threshold_for(self, cloud_share: float | None) -> float | None:
        """The per-call threshold for a target ``cloud_share`` (None: the router's own)."""
        if cloud_share is None:
            return None
        if self.router is None:
            raise ConfigurationError("a per-call cloud_share needs a calibrated router; this one has none.")
        return self.router.threshold_for_share(cloud_share)

    def _decide(self, messages: Messages, force: str | None, max_tokens: int,
                cloud_share: float | None = None) -> tuple[Decision, np.ndarray | None]:
        """The decision, and the query's embedding when the router computed one (the answer check reuses it)."""
        start = time.perf_counter()
        vector = None
        timings = {"tokenize": 0.0, "embed": 0.0, "score": 0.0, "gate": 0.0}
        fields: dict = {}
        reasons: list[str] = []
        if force is not None:
            route, mode = defaults.check_route(force), "forced"
            if self.model(route) is None:
                raise ConfigurationError(f"Forced to the {route}, but no {route} model is configured"
                                         + (f" (set {settings.CLOUD_BASE_URL_ENV})." if route == CLOUD else "."))
            reasons.append(f"forced to {force} by the caller")
        elif self.cloud is None:
            route, mode = LOCAL, "local-only"
            reasons.append("no cloud endpoint configured: every query stays on the device")
        elif has_tool_messages(messages):
            route, mode = CLOUD, self.mode
            reasons.append("the conversation has tool calls or results, which only the cloud model handles")
        else:
            route, mode = LOCAL, self.mode
            if self.router is not None:
                query = self.embedder.embed_one(routing_text(messages))
                vector = query.vector
                t = time.perf_counter()
                score = float(self.router.score(query.vector)[0])
                timings.update(
                    tokenize=query.tokenize_ms, embed=query.embed_ms, score=(time.perf_counter() - t) * 1e3
                )
                threshold = self._threshold_for(cloud_share)
                if threshold is None:
                    threshold = self.budget.threshold() if self.budget else self.threshold
                route = CLOUD if score >= threshold else LOCAL
                op = ">=" if route == CLOUD else "<"
                reasons.append(f"router score {score:.3f} {op} threshold {threshold:.3f}")
                fields.update(score=score, threshold=threshold, routing_tokens=query.n_tokens,
                              routing_truncated=query.truncated)
                if self.budget:
                    self.budget.record(score, route == CLOUD)
                    fields["cloud_share_realised"] = self.budget.realised_share()
                if query.truncated:
                    reasons.append(f"query truncated to {query.n_tokens} tokens for routing")
            if self.gate is not None and route == LOCAL:
                route = self._gate(messages, timings, fields, reasons)
        if route == LOCAL and self.local is not None and not self.local.fits(messages, max_tokens):
            route = CLOUD
            reasons.append(f"prompt plus {max_tokens} answer tokens exceed the local context of {self.local.n_ctx}")
        timings["total"] = (time.perf_counter() - start) * 1e3
        decision = Decision(route=route, mode=mode, reason="; ".join(reasons), timings_ms=timings,
                            models=self.model_ids(), **fields)
        return self._available_route(decision), vector

    def _gate(self, messages: Messages, timings: dict, fields: dict, reasons: list[str]) -> str:
        gate = self.gate
        if not self.local.fits(messages, gate.max_tokens):
            reasons.append("prompt too long to sample locally")
            return CLOUD
        t = time.perf_counter()
        try:
            entropy, se = gate.measure_entropy(self.local, messages)
        except LocalModelError as exc:
            log.warning("uncertainty gate failed (%s); routing to the cloud", exc)
            reasons.append(f"local sampling failed ({exc})")
            return CLOUD
        finally:
            timings["gate"] = (time.perf_counter() - t) * 1e3
        route = CLOUD if entropy > gate.threshold else LOCAL
        op = ">" if route == CLOUD else "<="
        reasons.append(
            f"semantic entropy {entropy:.2f} nats ({se.n_clusters} meanings in {gate.k} samples, "
            f"{se.clusterer} clustering) {op} gate threshold {gate.threshold:.2f}"
        )
        fields.update(semantic_entropy=entropy, gate_threshold=gate.threshold, n_clusters=se.n_clusters)
        return route

    def _available_route(self, decision: Decision) -> Decision:
        """Move a decision to the cloud when no local model is configured (recorded as a fallback)."""
        if decision.route == LOCAL and self.local is None:
            return decision.with_fallback(CLOUD, FallbackKind.NO_LOCAL, "no local model configured", degraded=False)
        return decision

    def route(self, messages: Messages | str, *, force: str | None = None, max_tokens: int | None = None,
              cloud_share: float | None = None) -> Decision:
        """The routing decision for ``messages`` without answering them."""
        messages = normalize(messages)
        decision, _ = self._decide(messages, force, self._max_tokens(max_tokens), cloud_share)
        self._write_trace("route", messages, decision)
        return decision

    def _max_tokens(self, max_tokens: int | None) -> int:
        """The call's answer length limit: this router's when None, else a positive integer or a clear error."""
        if max_tokens is None:
            return self.max_tokens
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInputError(f"max_tokens must be a positive integer, not {max_tokens!r}.")
        return max_tokens

    def model(self, route: Route) -> ChatModel | None:
        """The model that answers on ``route`` (None when that side is not configured); the cloud behind its
        circuit breaker."""
        return self.local if route == LOCAL else self._guarded_cloud

    def close(self) -> None:
        """Free both models (the local model's native memory, the cloud's connections)."""
        for model in (self.local, self.cloud):
            if model is not None:
                model.close()

    def __enter__(self) -> EdgeRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fall_back(self, decision: Decision, error: Exception, *, stream_cut: bool = False) -> Decision:
        """The decision for the other route after ``error``, or raise when there is none."""
        failed = decision.route
        other = CLOUD if failed == LOCAL else LOCAL
        if self.model(other) is None:
            raise error
        reason = f"{failed} failed: {error}"
        if stream_cut:
            kind = FallbackKind.CLOUD_STREAM_CUT
            reason = (f"the cloud stream broke after {len(error.partial_text)} characters ({error}); "
                      "the local model finished the answer")
        elif isinstance(error, CloudCircuitOpenError):
            kind = FallbackKind.CLOUD_SKIPPED
        else:
            kind = FallbackKind.CLOUD_FAILED if failed == CLOUD else FallbackKind.LOCAL_FAILED
        log.warning("falling back to %s: %s", other, reason)
        return decision.with_fallback(other, kind, reason, degraded=other == LOCAL)

    def chat(self, messages: Messages | str, *, max_tokens: int | None = None, force: str | None = None,
             cloud_share: float | None = None, sampling: Sampling | None = None) -> Answer:
        """Route and answer ``messages``; the ``Answer`` carries its ``Decision``.

        ``force`` skips the decision; ``cloud_share`` uses the router's calibrated
        threshold for that share on this call only; ``sampling`` (temperature,
        top_p, seed, stop, penalties) applies on whichever route answers.
        """
        messages = normalize(messages)
        max_tokens = self._max_tokens(max_tokens)
        decision, vector = self._decide(messages, force, max_tokens, cloud_share)
        if self._checks(decision):  # the check reads the local answer's first tokens as they stream
            stream = AnswerStream(self, messages, decision, max_tokens, sampling, vector)
            for _ in stream:
                pass
            assert stream.answer is not None
            return stream.answer
        start = time.perf_counter()
        try:
            completion = self.model(decision.route).chat(messages, max_tokens=max_tokens, sampling=sampling)
        except _FAILURES[decision.route] as first:
            decision = self._fall_back(decision, first)
            try:
                completion = self.model(decision.route).chat(messages, max_tokens=max_tokens, sampling=sampling)
            except _FAILURES[decision.route] as second:
                raise _both_failed(first, second) from second
        answer = _answer(completion, decision, start)
        self._write_trace("answer", messages, answer)
        return answer

    def stream(self, messages: Messages | str, *, max_tokens: int | None = None, force: str | None = None,
               cloud_share: float | None = None, sampling: Sampling | None = None) -> AnswerStream:
        """Route now; iterate the result for the answer's text pieces."""
        messages = normalize(messages)
        max_tokens = self._max_tokens(max_tokens)
        decision, vector = self._decide(messages, force, max_tokens, cloud_share)
        return AnswerStream(self, messages, decision, max_tokens, sampling, vector)

    def _checks(self, decision: Decision) -> bool:
        """Whether the answer check judges this local answer: on, a decided (not forced) local route, and a
        cloud that is not being skipped."""
        return (self.answer_check is not None and decision.route == LOCAL and decision.fallback is None
                and decision.mode not in ("forced", "local-only") and self.breaker.state()["state"] != "open")

    def _write_trace(self, event: str, messages: Messages, result: Decision | Answer) -> None:
        """Append ``result`` to the trace, if one is configured (answers without their text)."""
        if self._trace is not None:
            record = result.to_dict()
            if isinstance(result, Answer):
                record["answer"] = None
            self._trace.write(event, routing_text(messages), record)


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
    the whole ``Answer``.
    """

    def __init__(self, router: EdgeRouter, messages: Messages, decision: Decision, max_tokens: int,
                 sampling: Sampling | None = None, query_vector: np.ndarray | None = None):
        self._router = router
        self._query_vector = query_vector
        self._messages = messages
        self._max_tokens = max_tokens
        self._sampling = sampling
        self.decision = decision
        self.answer: Answer | None = None
        self._start = 0.0
        self._settled = False
        self._kept: tuple | None = None  # (piece iterator, held pieces, local stream) of a local answer kept

    def _open(self, route: Route, prefix: str = ""):
        model = self._router.model(route)
        extra = {"prefix": prefix} if prefix else {}
        return model.stream(self._messages, max_tokens=self._max_tokens, sampling=self._sampling, **extra)

    def settle(self) -> Decision:
        """Run the answer check now where it applies; afterwards ``decision`` names the answering route
        (until a fallback)."""
        if not self._settled:
            self._settled, self._start = True, time.perf_counter()
            if self._router._checks(self.decision):
                self._check()
        return self.decision

    def _check(self) -> None:
        router, check = self._router, self._router.answer_check
        t0 = time.perf_counter()
        try:
            stream = router.local.stream(self._messages, max_tokens=self._max_tokens, sampling=self._sampling,
                                         stats=True)
            pieces, held = iter(stream), []
            for piece in pieces:
                held.append(piece)
                if len(stream.token_stats) >= check.hold_tokens:
                    break
        except _FAILURES[LOCAL] as exc:
            self.decision = router._fall_back(self.decision, exc)
            return
        t1 = time.perf_counter()
        vector = self._query_vector
        if check.probe.uses_embedding and vector is None:  # a gate-only router embedded nothing
            vector = router.embedder.embed_one(routing_text(self._messages)).vector
        score = check.probe.score(stream.token_stats, vector)
        n = len(stream.token_stats)
        timings = {**self.decision.timings_ms, "check_hold": (t1 - t0) * 1e3,
                   "check": (time.perf_counter() - t1) * 1e3}
        offload = score >= check.threshold
        verdict = (f"answer check: P(local answer wrong) {score:.3f} {'>=' if offload else '<'} "
                   f"{check.threshold:.3f} after {n} held tokens; "
                   + ("the local start was dropped and the cloud answers" if offload else "the local answer goes on"))
        self.decision = replace(self.decision, route=CLOUD if offload else LOCAL, decided=CLOUD if offload else LOCAL,
                                reason=f"{self.decision.reason}; {verdict}", check_score=score,
                                check_threshold=check.threshold, check_tokens=n, timings_ms=timings)
        if offload:
            pieces.close()  # frees the local model
        else:
            self._kept = (pieces, held, stream)

    def __iter__(self) -> Iterator[str]:
        self.settle()
        if self._kept is not None:
            pieces, held, stream = self._kept
            yield from held
            yield from pieces
            self.answer = _answer(stream.completion, self.decision, self._start)
            self._router._write_trace("answer", self._messages, self.answer)
            return
        start = self._start
        first_error: Exception | None = None
        partial = ""
        for _ in range(2):
            route = self.decision.route
            delivered: list[str] = []
            try:
                stream = self._open(route, partial)
                for piece in stream:
                    delivered.append(piece)
                    yield piece
                break
            except _FAILURES[route] as exc:
                if partial:  # the device could not finish a cut cloud stream either
                    raise first_error from exc
                if delivered:
                    if not (isinstance(exc, CloudResponseError) and self._router.local is not None):
                        raise
                    partial = exc.partial_text
                    self.decision = self._router._fall_back(self.decision, exc, stream_cut=True)
                    first_error = exc
                    continue
                if first_error is not None:
                    raise _both_failed(first_error, exc) from exc
                first_error = exc
                self.decision = self._router._fall_back(self.decision, exc)
        completion = stream.completion
        if partial:  # the answer is the cloud's beginning and the device's continuation, as delivered
            completion = replace(completion, text=(partial + "".join(delivered)).strip())
        self.answer = _answer(completion, self.decision, start)
        self._router._write_trace("answer", self._messages, self.answer)


def _answer(completion: Completion, decision: Decision, start: float) -> Answer:
    return Answer(
        text=completion.text,
        decision=decision,
        model=completion.model,
        usage=completion.usage,
        cost_usd=completion.cost_usd,
        answer_ms=(time.perf_counter() - start) * 1e3,
        finish_reason=completion.finish_reason,
    )


def _both_failed(first: Exception, second: Exception) -> AllRoutesFailedError:
    cloud, local = (first, second) if isinstance(first, CloudError) else (second, first)
    return AllRoutesFailedError(
        f"Both routes failed. Local: {local}. Cloud: {cloud}.", local_error=local, cloud_error=cloud
    )
