"""The answer check: token statistics, signals, the probe, and the held-back stream (fakes, then real models)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edge_router import CloudLLM, EdgeRouter
from edge_router.backends.token_stats import TokenStats, token_stats
from edge_router.errors import ConfigurationError, InvalidInputError, RouterModelError
from edge_router.routing.decision import FallbackKind
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter
from edge_router.testing import FakeStream as _Stream
from edge_router.training.answer_probe import fit_probe, with_thresholds
from edge_router.uncertainty.answer_check import SIGNALS, AnswerCheck, AnswerProbe, answer_signals


def test_token_stats_are_the_full_softmax_log_probability_and_entropy():
    logits = np.array([2.0, 1.0, 0.0, -1.0], np.float32)
    p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    stats = token_stats(logits, 1)
    assert stats.logprob == pytest.approx(math.log(p[1]), abs=1e-6)
    assert stats.entropy == pytest.approx(float(-(p * np.log(p)).sum()), abs=1e-6)
    assert token_stats(np.array([0.0, 0.0]), 0).entropy == pytest.approx(math.log(2))


def test_signals_read_only_the_first_n_tokens():
    stats = [TokenStats(-0.1, 0.5), TokenStats(-0.3, 1.5), TokenStats(-2.0, 3.0)]
    two = answer_signals(stats, 2)
    assert two["mean_logprob"] == pytest.approx(-0.2) and two["min_logprob"] == pytest.approx(-0.3)
    assert two["max_entropy"] == 1.5 and two["n_tokens"] == 2 and two["first_logprob"] == -0.1
    assert two["logprob_slope"] == pytest.approx(-0.2) and two["entropy_slope"] == pytest.approx(1.0)
    assert answer_signals([], 8) == dict.fromkeys(SIGNALS, 0.0)


def _probe(weight_on_mean_logprob: float = -4.0, bias: float = -2.0, n: int = 3) -> AnswerProbe:
    """P(wrong) rises as the mean log-probability falls."""
    weights = np.zeros(len(SIGNALS))
    weights[SIGNALS.index("mean_logprob")] = weight_on_mean_logprob
    return AnswerProbe(n_tokens=n, weights=weights, bias=bias, mean=np.zeros(len(SIGNALS)),
                       scale=np.ones(len(SIGNALS)), embedder_id=None,
                       thresholds=({"cloud_share": 0.3, "threshold": 0.5},))


def test_a_fitted_probe_ranks_unsure_answers_higher_and_survives_its_file(tmp_path):
    rng = np.random.default_rng(0)
    wrong = rng.random(400) < 0.5
    answers = [[TokenStats(float(rng.normal(-2.0 if w else -0.3, 0.4)), 1.0)] * 4 for w in wrong]
    X = np.array([[answer_signals(a, 4)[k] for k in SIGNALS] for a in answers])
    probe = with_thresholds(fit_probe(X, wrong, n_tokens=4, embedder_id=None), rng.random(50))
    scores = np.array([probe.score(a) for a in answers])
    assert scores[wrong].mean() > 0.8 > 0.2 > scores[~wrong].mean()
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(probe.to_dict()))
    loaded = AnswerProbe.load(path)
    assert loaded.score(answers[0]) == pytest.approx(probe.score(answers[0]))
    assert len(loaded.thresholds) == 9 and 0 <= loaded.threshold_for_share(0.3) <= 1
    path.write_text("{}")
    with pytest.raises(RouterModelError, match="models/probes/build.py"):
        AnswerProbe.load(path)
    with pytest.raises(InvalidInputError, match="both outcomes"):
        fit_probe(X[:10], np.zeros(10), n_tokens=4, embedder_id=None)
    with pytest.raises(InvalidInputError, match="probability"):
        AnswerCheck(probe, 1.5)


# ---------------------------------------------------------------- the held-back stream, with fakes


class _StatsStream(_Stream):
    """A local stream that reports one TokenStats per word and whether it was closed early."""

    def __init__(self, text, model, logprob):
        super().__init__(text, model)
        self.token_stats: list[TokenStats] = []
        self.closed = False
        self._logprob = logprob

    def __iter__(self):
        try:
            for piece in super().__iter__():
                self.token_stats.append(TokenStats(self._logprob, 1.0))
                yield piece
        except GeneratorExit:
            self.closed = True
            raise


class CheckedLocal(FakeLocal):
    def __init__(self, logprob: float):
        super().__init__()
        self.logprob = logprob
        self.streams: list[_StatsStream] = []

    def stream(self, messages, *, max_tokens, temperature=0.0, sampling=None, prefix="", stats=False):
        stream = _StatsStream("one two three four five", self.id, self.logprob)
        self.streams.append(stream)
        return stream


def _router(local, cloud=None, **kwargs):
    return EdgeRouter(local=local, cloud=cloud or FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                      max_tokens=10, answer_check=AnswerCheck(_probe(), 0.5), **kwargs)


def test_a_confident_start_is_flushed_and_the_local_answer_goes_on():
    router = _router(CheckedLocal(logprob=-0.05))
    stream = router.stream("hi")
    assert stream.settle().route == "local"
    assert "".join(stream) == "one two three four five"
    d = stream.answer.decision
    assert (d.route, d.decided, d.check_tokens, d.mode) == ("local", "local", 3, "router+check")
    assert d.check_score < d.check_threshold == 0.5 and "the local answer goes on" in d.reason
    assert d.timings_ms["check_hold"] >= 0 and d.timings_ms["check"] >= 0


def test_an_unsure_start_is_dropped_and_the_cloud_answers():
    local = CheckedLocal(logprob=-3.0)
    router = _router(local)
    answer = router.chat("hi")
    assert answer.text == "cloud answer here" and answer.route == "cloud" and answer.decision.decided == "cloud"
    assert answer.decision.check_score >= 0.5 and "dropped" in answer.decision.reason
    assert local.streams[0].closed and not answer.degraded


def test_the_check_skips_forced_and_cloud_routes_and_a_failed_cloud_still_answers_locally():
    local = CheckedLocal(logprob=-3.0)
    assert _router(local).chat("x" * 80).decision.check_score is None  # the router sent it out already
    forced = _router(CheckedLocal(logprob=-3.0)).chat("hi", force="local")
    assert forced.route == "local" and forced.decision.check_score is None
    failing = _router(CheckedLocal(logprob=-3.0), cloud=FakeCloud(fail=True))
    answer = failing.chat("hi")
    assert answer.route == "local" and answer.degraded and answer.decision.fallback_kind == FallbackKind.CLOUD_FAILED
    assert answer.decision.decided == "cloud" and answer.decision.check_score >= 0.5


def test_the_check_needs_both_sides_and_its_options_need_the_check():
    with pytest.raises(ConfigurationError, match="both local= and cloud="):
        EdgeRouter(local=FakeLocal(n_ctx=50), router=FakeRouter(), embedder=FakeEmbedder(),
                   answer_check=AnswerCheck(_probe(), 0.5))
    with pytest.raises(ConfigurationError, match="--check"):
        EdgeRouter.from_defaults(check_share=0.2, cloud_from_env=False, local_model="smollm2-135m-instruct-q4_1")


# ---------------------------------------------------------------- real models


def test_teacher_forced_statistics_match_those_of_the_generated_answer(local_llm):
    messages = [{"role": "user", "content": "Name a colour."}]
    stream = local_llm.stream(messages, max_tokens=6, stats=True)
    text = "".join(stream)
    assert len(stream.token_stats) == stream.completion.usage.completion_tokens > 0
    forced = local_llm.score_answer(messages, text, max_tokens=6)
    n = min(len(forced), len(stream.token_stats))
    generated = np.array([(s.logprob, s.entropy) for s in stream.token_stats[:n]])
    # one batched prefill rounds differently from token-by-token decoding: close, not equal
    assert np.allclose(np.array([(s.logprob, s.entropy) for s in forced[:n]]), generated, atol=0.25)


def test_real_models_hold_back_then_keep_or_hand_over(local_llm, embedder, real_router_file, cloud_server):
    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=0)
    question = "What is the capital of France?"

    def router(threshold):
        return EdgeRouter(local=local_llm, cloud=cloud, router=real_router_file(-4.0), embedder=embedder,
                          max_tokens=12, answer_check=AnswerCheck(_probe(n=4), threshold))

    kept = router(1.0).chat(question)  # never unsure enough
    assert kept.route == "local" and kept.decision.check_tokens == 4 and kept.model == local_llm.id
    assert kept.text == local_llm.chat(question, max_tokens=12).text
    stream = router(0.0).stream(question)  # always unsure
    assert stream.settle().route == "cloud"
    assert "".join(stream) == f"cloud answer to: {question}" and stream.answer.decision.check_tokens == 4
