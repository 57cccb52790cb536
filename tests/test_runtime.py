"""EdgeRouter: routing logic and fallbacks with fakes, then the real path with real models and a loopback cloud."""

from __future__ import annotations

import json
import logging
import math

import pytest

from edge_router import CloudLLM, EdgeRouter, EmbeddingClusterer, UncertaintyGate
from edge_router.errors import (
    AllRoutesFailedError,
    CloudCircuitOpenError,
    CloudError,
    CloudResponseError,
    ConfigurationError,
    InvalidInputError,
    LocalModelError,
)
from edge_router.routing.breaker import CircuitBreaker
from edge_router.routing.decision import FallbackKind
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter

# ---------------------------------------------------------------- fakes for the logic (edge_router.testing)


def make(local=None, cloud=None, **kwargs) -> EdgeRouter:
    kwargs.setdefault("router", FakeRouter())
    kwargs.setdefault("embedder", FakeEmbedder())
    kwargs.setdefault("max_tokens", 10)
    return EdgeRouter(local=local, cloud=cloud, **kwargs)


SHORT = "hi"            # score 0.02
LONG = "x" * 80         # score 0.80


def test_router_score_against_threshold():
    router = make(FakeLocal(n_ctx=50), FakeCloud(), threshold=0.5)
    local, cloud = router.route(SHORT), router.route(LONG)
    assert (local.route, cloud.route) == ("local", "cloud")
    assert local.score == pytest.approx(0.02) and local.threshold == 0.5
    assert "router score 0.020 < threshold 0.500" in local.reason
    assert "router score 0.800 >= threshold 0.500" in cloud.reason
    assert set(local.timings_ms) == {"tokenize", "embed", "score", "gate", "total"}
    assert local.models == {"embedder": "fake-embedder", "router": "fake:length", "local": "fake-local",
                            "cloud": "cloud:fake"}


def test_chat_answers_from_the_decided_side():
    local, cloud = FakeLocal(n_ctx=50), FakeCloud()
    router = make(local, cloud)
    assert router.chat(SHORT).text == "local answer"
    answer = router.chat(LONG)
    assert answer.text == "cloud answer" and answer.cost_usd == 0.002 and not answer.degraded
    assert (local.calls, cloud.calls) == (1, 1)


def test_cloud_failure_gives_the_local_answer_marked_degraded(caplog):
    router = make(FakeLocal(n_ctx=50), FakeCloud(fail=True))
    answer = router.chat(LONG)
    assert answer.text == "local answer"
    assert answer.route == "local" and answer.degraded
    assert "cloud failed: cloud unreachable" in answer.decision.fallback
    assert "falling back to local" in caplog.text


def test_local_failure_goes_to_the_cloud():
    answer = make(FakeLocal(n_ctx=50, fail=True), FakeCloud()).chat(SHORT)
    assert answer.text == "cloud answer" and answer.route == "cloud"
    assert "local failed: local exploded" in answer.decision.fallback
    assert not answer.degraded


def test_both_failing_names_both_causes():
    with pytest.raises(AllRoutesFailedError) as info:
        make(FakeLocal(n_ctx=50, fail=True), FakeCloud(fail=True)).chat(SHORT)
    assert "local exploded" in str(info.value) and "cloud unreachable" in str(info.value)
    assert isinstance(info.value.local_error, LocalModelError)
    assert isinstance(info.value.cloud_error, CloudError)


def test_no_cloud_configured_is_local_only_without_scoring_or_degrading(caplog):
    with caplog.at_level(logging.WARNING):
        answer = make(FakeLocal(n_ctx=50), None).chat(LONG)
    assert answer.text == "local answer" and not answer.degraded and answer.decision.fallback is None
    assert answer.decision.mode == "local-only" and answer.decision.score is None
    assert "no cloud endpoint configured" in answer.decision.reason and not caplog.records
    with pytest.raises(ConfigurationError, match="Forced to the cloud, but no cloud model is configured"):
        make(FakeLocal(n_ctx=50), None).chat(LONG, force="cloud")


def test_the_decision_keeps_the_decided_route_after_a_fallback():
    answer = make(FakeLocal(n_ctx=50), FakeCloud(fail=True)).chat(LONG)  # the router says cloud; the cloud fails
    assert (answer.decision.decided, answer.route) == ("cloud", "local") and answer.degraded
    assert answer.decision.to_dict()["fallback_kind"] == "cloud_failed"
    plain = make(FakeLocal(n_ctx=50), FakeCloud()).route(SHORT)
    assert plain.decided == plain.route


def test_prompt_too_long_for_local_goes_to_the_cloud():
    decision = make(FakeLocal(n_ctx=50), FakeCloud(), threshold=1.0).route("w " * 45)  # score 0.9: local
    assert decision.route == "cloud"
    assert "exceed the local context" in decision.reason


def test_forced_routes():
    router = make(FakeLocal(n_ctx=50), FakeCloud())
    assert router.route(LONG, force="local").route == "local"
    assert router.route(SHORT, force="cloud").mode == "forced"
    with pytest.raises(InvalidInputError):
        router.route(SHORT, force="sideways")


def test_gate_offloads_when_samples_disagree():
    sure = FakeLocal(n_ctx=50, samples=["Paris"] * 5)
    unsure = FakeLocal(n_ctx=50, samples=["1", "2", "3", "4", "4"])
    from edge_router import ExactMatchClusterer

    gate = UncertaintyGate(ExactMatchClusterer(), k=5, threshold=0.9)
    kept = EdgeRouter(local=sure, cloud=FakeCloud(), gate=gate, max_tokens=10).route(SHORT)
    sent = EdgeRouter(local=unsure, cloud=FakeCloud(), gate=gate, max_tokens=10).route(SHORT)
    assert (kept.route, kept.semantic_entropy, kept.n_clusters) == ("local", 0.0, 1)
    assert sent.route == "cloud" and sent.n_clusters == 4 and sent.semantic_entropy > 0.9
    assert "semantic entropy" in sent.reason and sent.mode == "gate"


def test_gate_after_router_only_checks_local_choices():
    gate = UncertaintyGate(EmbeddingClusterer.__new__(EmbeddingClusterer), k=5)  # never called for cloud routes
    router = make(FakeLocal(n_ctx=50), FakeCloud(), gate=gate)
    decision = router.route(LONG)
    assert decision.route == "cloud" and decision.semantic_entropy is None and decision.mode == "router+gate"


def test_stream_falls_back_before_the_first_piece_and_the_device_finishes_a_cut_stream():
    stream = make(FakeLocal(n_ctx=50), FakeCloud(fail=True)).stream(LONG)
    assert "".join(stream) == "local answer here"
    assert stream.answer.degraded and stream.decision.fallback.startswith("cloud failed")

    local = FakeLocal(n_ctx=50)
    cut = make(local, FakeCloud(cut_after=2)).stream(LONG)
    received = list(cut)
    assert received[:2] == ["cloud", " answer"] and local.prefixes == ["cloud answer"]
    assert cut.answer.text == "".join(received).strip() and cut.answer.model == local.id
    d = cut.answer.decision
    assert (d.decided, d.route, d.fallback_kind, d.degraded) == ("cloud", "local", FallbackKind.CLOUD_STREAM_CUT, True)

    both = make(FakeLocal(n_ctx=50, fail=True), FakeCloud(cut_after=2)).stream(LONG)
    received = []
    with pytest.raises(CloudResponseError) as info:
        for piece in both:
            received.append(piece)
    assert info.value.partial_text == "".join(received) == "cloud answer"


def test_trace_file_gets_one_json_line_per_decision(tmp_path, monkeypatch):
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("EDGE_ROUTER_TRACE", str(trace))
    router = make(FakeLocal(n_ctx=50), FakeCloud(fail=True))
    router.route(SHORT)
    router.chat(LONG)
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [r["event"] for r in rows] == ["route", "answer"]
    assert rows[1]["degraded"] is True and rows[1]["fallback"].startswith("cloud failed")
    assert LONG not in trace.read_text(), "prompts are not written, only their hash"


def test_configuration_errors():
    with pytest.raises(ConfigurationError, match="router file"):
        EdgeRouter(local=FakeLocal(n_ctx=50), cloud=FakeCloud())
    assert EdgeRouter(local=FakeLocal(n_ctx=50), max_tokens=10).route(SHORT).mode == "local-only"
    with pytest.raises(ConfigurationError, match="embedder"):
        EdgeRouter(local=FakeLocal(n_ctx=50), router=FakeRouter())
    with pytest.raises(ConfigurationError, match="threshold"):
        make(FakeLocal(n_ctx=50), threshold=1.5)


# ---------------------------------------------------------------- the real path


def test_real_models_route_and_answer_both_ways(local_llm, embedder, real_router_file, cloud_server):
    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", backoff_base=0.01)
    to_local = EdgeRouter(local=local_llm, cloud=cloud, embedder=embedder, router=real_router_file(-4.0),
                          max_tokens=24)
    answer = to_local.chat("What is the capital of France?")
    assert answer.route == "local" and answer.model == local_llm.id and answer.text
    assert answer.decision.timings_ms["embed"] > 0 and answer.decision.routing_tokens > 3

    to_cloud = EdgeRouter(local=local_llm, cloud=cloud, embedder=embedder, router=real_router_file(4.0),
                          max_tokens=24)
    answer = to_cloud.chat("What is the capital of France?")
    assert answer.text == "cloud answer to: What is the capital of France?"
    assert answer.decision.score == pytest.approx(1 / (1 + math.exp(-4.0)), abs=1e-5)

    cloud_server.behaviours.extend(["500"] * 4)
    failing = CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=3, backoff_base=0.01)
    degraded = EdgeRouter(local=local_llm, cloud=failing, embedder=embedder, router=real_router_file(4.0),
                          max_tokens=24).chat("What is the capital of France?")
    assert degraded.degraded and degraded.model == local_llm.id and "HTTP 500" in degraded.decision.fallback


def test_real_stream_matches_chat(local_llm, embedder, real_router_file):
    router = EdgeRouter(local=local_llm, embedder=embedder, router=real_router_file(-4.0), max_tokens=20)
    stream = router.stream("Name a primary colour.")
    text = "".join(stream)
    assert text.strip() == stream.answer.text
    assert stream.answer.text == router.chat("Name a primary colour.").text


def test_real_gate_measures_semantic_entropy(local_llm, embedder):
    gate = UncertaintyGate(EmbeddingClusterer(embedder), k=5, max_tokens=24)
    unused_cloud = CloudLLM(base_url="http://127.0.0.1:9/v1", model="never-called")  # route() answers nothing
    decision = EdgeRouter(local=local_llm, cloud=unused_cloud, gate=gate, max_tokens=24).route("Say a random word.")
    assert 0.0 <= decision.semantic_entropy <= math.log(5) + 1e-9
    assert 1 <= decision.n_clusters <= 5
    assert decision.timings_ms["gate"] > 0
    assert decision.route in ("local", "cloud")


def test_online_budget_reports_the_realised_share():
    class CalibratedRouter(FakeRouter):
        def threshold_for_share(self, share):
            return 0.5

    router = make(FakeLocal(n_ctx=50), FakeCloud(), router=CalibratedRouter(), cloud_share=0.5, budget_window=10)
    for i in range(30):
        decision = router.route("x" * (i % 10 * 10 + 1))
    assert decision.cloud_share_realised is not None and 0.3 <= decision.cloud_share_realised <= 0.7
    with pytest.raises(ConfigurationError, match="cloud_share"):
        make(FakeLocal(n_ctx=50), FakeCloud(), budget_window=10)


# ---------------------------------------------------------------- the circuit breaker


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_breaker_skips_a_failing_cloud_then_tries_it_again_after_the_cool_down():
    clock = Clock()
    cloud = FakeCloud(fail=True)
    router = make(FakeLocal(n_ctx=50), cloud, breaker=CircuitBreaker(failures=2, cool_down_s=30, clock=clock))
    for _ in range(2):
        assert router.chat(LONG).decision.fallback_kind == FallbackKind.CLOUD_FAILED
    assert router.breaker.state()["state"] == "open"
    skipped = router.chat(LONG)
    assert cloud.calls == 2, "an open circuit does not call the cloud"
    assert skipped.degraded and skipped.decision.fallback_kind == FallbackKind.CLOUD_SKIPPED
    assert "circuit breaker" in skipped.decision.fallback and skipped.decision.decided == "cloud"
    stream = router.stream(LONG)
    assert "".join(stream) and stream.decision.fallback_kind == FallbackKind.CLOUD_SKIPPED
    clock.now = 31.0  # cool-down over: one trial call; the cloud is back
    cloud.fail = False
    assert router.breaker.state()["state"] == "half-open"
    assert router.chat(LONG).route == "cloud" and cloud.calls == 3
    assert router.breaker.state() == {"state": "closed", "consecutive_failures": 0, "seconds_left": 0.0}


def test_a_failed_trial_opens_the_circuit_again_and_bad_settings_are_refused():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cool_down_s=10, clock=clock)
    breaker.failure()
    with pytest.raises(CloudCircuitOpenError):
        breaker.check()
    clock.now = 10.0
    breaker.check()  # the trial call
    with pytest.raises(CloudCircuitOpenError):
        breaker.check()  # only one trial at a time
    breaker.failure()
    assert breaker.state()["state"] == "open" and breaker.state()["seconds_left"] == 10.0
    with pytest.raises(ConfigurationError):
        CircuitBreaker(failures=0)
