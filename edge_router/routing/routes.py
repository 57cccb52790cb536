"""The two routes a query can take, and what happens when one fails: shared by ``EdgeRouter`` and its streams.

``Routes`` holds the local model, the cloud endpoints (a ``CloudChain``: in fallback order, each behind its own
circuit breaker), the routes of recent answers and the trace; it answers which model serves a route, moves a
decision to the other route after a failure (logged and recorded in the decision), and records decisions and
answers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Sequence

from ..backends.chat_model import ChatModel
from ..backends.completions import Completion
from ..backends.messages import Messages, routing_text
from ..defaults import Route
from ..errors import AllRoutesFailedError, CloudCircuitOpenError, CloudError, LocalModelError, PromptTooLongError
from .breaker import CircuitBreaker
from .cloud_chain import CloudChain, CloudChainError
from .conversation import AnsweredTurns
from .decision import CLOUD, LOCAL, Answer, Decision, FallbackKind
from .trace import TraceWriter

log = logging.getLogger(__name__)

FAILURES = {LOCAL: (LocalModelError, PromptTooLongError), CLOUD: (CloudError,)}


class Routes:
    """The local model, the cloud endpoints and the trace (the local model and the trace may be None, the
    endpoints an empty list)."""

    def __init__(self, local: Any, clouds: Sequence[Any], breaker: CircuitBreaker, trace: TraceWriter | None, *,
                 store: Any = None, embedder_id: str | None = None, meter: Any = None):
        self.local, self.meter = local, meter  # meter: a costs.CostMeter fed with every answer's time
        self.store, self.embedder_id = store, embedder_id
        self.shadow: Any = None  # a ShadowLabeller, set by EdgeRouter when shadow labels are on
        self.clouds = CloudChain(clouds, breaker) if clouds else None
        self.turns = AnsweredTurns()
        self._trace = trace

    def model(self, route: Route) -> ChatModel | None:
        """The model that answers on ``route`` (None when that side is not configured)."""
        return self.local if route == LOCAL else self.clouds

    def cloud_available(self) -> bool:
        """Whether a cloud endpoint would be called now (one is configured and its circuit is not open)."""
        return self.clouds is not None and self.clouds.available()

    def fall_back(self, decision: Decision, error: Exception, *, stream_cut: bool = False) -> Decision:
        """The decision for the other route after ``error``, or raise ``error`` when there is none."""
        failed = decision.route
        other = CLOUD if failed == LOCAL else LOCAL
        if self.model(other) is None or (other == CLOUD and decision.mode in ("forced", "privacy")):
            raise error  # a query forced or kept on the device never goes to the cloud
        reason = f"{failed} failed: {error}"
        if stream_cut:
            kind = FallbackKind.CLOUD_STREAM_CUT
            reason = (f"the cloud stream broke after {len(error.partial_text)} characters ({error}); "
                      "the local model finished the answer")
        elif isinstance(error, CloudCircuitOpenError) or getattr(error, "all_skipped", False):
            kind = FallbackKind.CLOUD_SKIPPED
        else:
            kind = FallbackKind.CLOUD_FAILED if failed == CLOUD else FallbackKind.LOCAL_FAILED
        log.warning("falling back to %s: %s", other, reason)
        if isinstance(error, CloudChainError):
            decision = replace(decision, cloud_attempts=tuple(a.to_dict() for a in error.attempts))
        return decision.with_fallback(other, kind, reason, degraded=other == LOCAL)

    def available(self, decision: Decision) -> Decision:
        """Move a decision to the cloud when no local model is configured (recorded as a fallback)."""
        if decision.route == LOCAL and self.local is None:
            return decision.with_fallback(CLOUD, FallbackKind.NO_LOCAL, "no local model configured", degraded=False)
        return decision

    def record(self, event: str, messages: Messages, result: Decision | Answer, *, vector: Any = None) -> None:
        """Remember an answer's route (for its follow-ups), store it with its query's embedding ``vector`` if a
        decision store is configured, and append ``result`` to the trace if one is (answers without their text). A
        store that fails is logged and never costs the caller the answer."""
        if isinstance(result, Answer):
            self.turns.remember(result.text, result.route)
            if self.meter is not None:
                self.meter.observe_answer(result.route, result.answer_ms,
                                          result.usage.completion_tokens if result.usage else None)
        if isinstance(result, Answer) and self.store is not None:
            try:
                prompt = routing_text(messages) if self.store.keep_prompts else None
                self.store.add(result.decision, vector=vector, embedder_id=self.embedder_id, model=result.model,
                               cost_usd=result.cost_usd, answer_ms=result.answer_ms, prompt=prompt)
            except Exception as exc:  # noqa: BLE001 - a full disk must not cost the answer
                log.warning("could not store decision %s in %s: %s", result.decision.id, self.store.path, exc)
            else:
                if self.shadow is not None:
                    self.shadow.offer(messages, result)
        if self._trace is not None:
            record = result.to_dict()
            if isinstance(result, Answer):
                record["answer"] = None
            self._trace.write(event, routing_text(messages), record)


def answer_of(completion: Completion, decision: Decision, start: float) -> Answer:
    if completion.attempts:  # which cloud endpoints were tried, and which answered
        decision = replace(decision, cloud_attempts=completion.attempts)
    return Answer(text=completion.text, decision=decision, model=completion.model, usage=completion.usage,
                  cost_usd=completion.cost_usd, answer_ms=(time.perf_counter() - start) * 1e3,
                  finish_reason=completion.finish_reason)


def both_failed(first: Exception, second: Exception) -> AllRoutesFailedError:
    cloud, local = (first, second) if isinstance(first, CloudError) else (second, first)
    return AllRoutesFailedError(
        f"Both routes failed. Local: {local}. Cloud: {cloud}.", local_error=local, cloud_error=cloud
    )
