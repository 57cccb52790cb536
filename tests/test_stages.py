"""The decision as stages, the threshold policy, the one settings model, and the public fakes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge_router import EdgeRouter
from edge_router.config import RouterSettings, from_args
from edge_router.errors import ConfigurationError, InvalidInputError
from edge_router.routing.decision import CLOUD, LOCAL
from edge_router.routing.stages import Query, Verdict
from edge_router.routing.threshold import ThresholdPolicy
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter
from edge_router.uncertainty.state_probe import StateProbe


class KeywordStage:
    """A toy stage: a query that mentions a keyword stays on the device, whatever comes after."""

    name = "keyword"

    def __init__(self, word: str):
        self.word = word

    def decide(self, query: Query, route: str) -> Verdict | None:
        if self.word not in query.text:
            return None
        return Verdict(LOCAL, f"mentions {self.word!r}", fields={}, final=True)


def _router(**kwargs) -> EdgeRouter:
    kwargs.setdefault("local", FakeLocal(n_ctx=50))
    kwargs.setdefault("cloud", FakeCloud())
    return EdgeRouter(router=FakeRouter(), embedder=FakeEmbedder(), max_tokens=10, **kwargs)


def test_a_new_stage_is_one_class_listed_before_the_default_ones():
    plain = _router()
    router = _router(stages=[KeywordStage("diary"), *plain.default_stages()])
    long_private = "my diary " + "x" * 80  # the length router alone would send it out
    assert plain.route(long_private).route == CLOUD
    decision = router.route(long_private)
    assert decision.route == LOCAL and "mentions 'diary'" in decision.reason
    assert [s["name"] for s in decision.stages] == ["keyword"], "a final verdict ends the deciding"
    other = router.route("x" * 80)
    assert other.route == CLOUD and [s["name"] for s in other.stages] == ["router"]


def test_every_stage_that_ran_is_recorded_with_its_verdict_and_time():
    from edge_router import ExactMatchClusterer, UncertaintyGate

    router = _router(gate=UncertaintyGate(ExactMatchClusterer(), k=5, threshold=0.5))
    decision = router.route("hi")
    names = [s["name"] for s in decision.stages]
    assert names == ["router", "gate"], names
    router_stage, gate_stage = decision.stages
    assert router_stage["route"] == LOCAL and router_stage["score"] == pytest.approx(0.02)
    assert gate_stage["score"] == pytest.approx(0.0) and all(s["ms"] >= 0 for s in decision.stages)
    assert decision.to_dict()["stages"][0]["name"] == "router"


def test_a_query_that_must_stay_local_is_trimmed_to_fit_or_refused_never_sent_to_the_cloud():
    from edge_router.errors import PromptTooLongError

    history = [{"role": "system", "content": "Be brief."},
               {"role": "user", "content": " ".join(["old"] * 40)}, {"role": "assistant", "content": "ok"},
               {"role": "user", "content": "and why is that?"}]
    cloud = FakeCloud()
    router = _router(cloud=cloud)
    decision = router.route(history, force="local")
    assert decision.route == LOCAL and decision.trimmed_messages == 2 and "2 oldest messages" in decision.reason
    assert [s["name"] for s in decision.stages] == ["forced", "context-fit"], "the fit runs after a final verdict"
    with pytest.raises(PromptTooLongError, match="forced to the device"):
        router.chat(" ".join(["word"] * 45), force="local")
    assert router.route(" ".join(["word"] * 45)).route == CLOUD, "a decided query that does not fit goes out"
    local_only = EdgeRouter(local=FakeLocal(n_ctx=50), max_tokens=10)
    answer = local_only.chat(history)
    assert answer.route == LOCAL and answer.decision.trimmed_messages == 2
    with pytest.raises(PromptTooLongError, match="no cloud endpoint"):
        local_only.chat(" ".join(["word"] * 45))
    assert cloud.calls == 0


def test_a_forced_local_query_whose_local_answer_fails_is_not_sent_to_the_cloud():
    from edge_router.errors import LocalModelError

    cloud = FakeCloud()
    router = _router(local=FakeLocal(n_ctx=50, fail=True), cloud=cloud)
    with pytest.raises(LocalModelError):
        router.chat("hi", force="local")
    with pytest.raises(LocalModelError):
        list(router.stream("hi", force="local"))
    assert cloud.calls == 0
    assert router.chat("hi").route == CLOUD, "a decided local query still falls back to the cloud"


def test_offline_means_no_cloud_call(monkeypatch, cloud_server):
    from edge_router import CloudLLM

    monkeypatch.setenv("EDGE_ROUTER_OFFLINE", "1")
    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=0)
    router = EdgeRouter(local=FakeLocal(n_ctx=50), cloud=cloud, router=FakeRouter(), embedder=FakeEmbedder(),
                        max_tokens=10)
    answer = router.chat("x" * 80)
    assert answer.degraded and "EDGE_ROUTER_OFFLINE" in answer.decision.fallback
    assert cloud_server.requests == []


def test_a_non_stage_is_refused_with_what_a_stage_needs():
    with pytest.raises(TypeError, match="decide"):
        _router(stages=[object()])


def test_the_threshold_policy_owns_which_threshold_applies():
    policy = ThresholdPolicy(FakeRouter(), cloud_share=0.3, budget_window=50)
    assert policy.fixed == pytest.approx(0.7)
    assert policy.threshold(cloud_share=0.1) == pytest.approx(0.9), "a per-call share wins"
    for score in [i / 100 for i in range(50)]:
        policy.record(score, score >= policy.threshold())
    assert policy.threshold() == pytest.approx(0.35, abs=0.02), "the budget follows the scores seen"
    with pytest.raises(ConfigurationError, match="not both"):
        ThresholdPolicy(FakeRouter(), threshold=0.3, cloud_share=0.3)
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        ThresholdPolicy(FakeRouter(), cloud_share=1.5)
    with pytest.raises(ConfigurationError, match="no router"):
        ThresholdPolicy(None, threshold=0.3)


def test_without_a_threshold_a_calibrated_router_sends_the_default_share():
    from edge_router import defaults
    from edge_router.errors import RouterModelError

    policy = ThresholdPolicy(FakeRouter())
    assert policy.fixed == pytest.approx(1 - defaults.CLOUD_SHARE) and "default" in policy.source

    class Uncalibrated(FakeRouter):
        def threshold_for_share(self, share: float) -> float:
            raise RouterModelError("no calibration table")

    policy = ThresholdPolicy(Uncalibrated())
    assert policy.fixed == defaults.THRESHOLD and "no calibration table" in policy.source


def test_a_threshold_without_a_router_is_refused_not_ignored():
    from edge_router import ExactMatchClusterer, UncertaintyGate

    with pytest.raises(ConfigurationError, match="no router"):
        EdgeRouter(local=FakeLocal(n_ctx=50), cloud=FakeCloud(), gate=UncertaintyGate(ExactMatchClusterer()),
                   threshold=0.3)


@pytest.mark.parametrize("values, match", [
    ({"mode": "gate", "threshold": 0.3}, "gate's threshold"),
    ({"threshold": 0.3, "cloud_share": 0.3}, "not both"),
    ({"budget_window": 100}, "cloud_share"),
    ({"check_share": 0.2}, "check=True"),
    ({"threads": 0}, "threads"),
    ({"n_gpu_layers": -1}, "n_gpu_layers"),
    ({"gate_k": 0}, "gate_k"),
    ({"repeat_penalty": 3.0}, "repeat_penalty"),
    ({"cloud_deadline_s": 0}, "cloud_deadline_s"),
])
def test_invalid_settings_fail_before_any_model_loads(values, match, monkeypatch):
    from edge_router.routing import building

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded before the settings were checked")

    monkeypatch.setattr(building, "LocalLLM", no_loading)
    monkeypatch.setattr(building, "Embedder", no_loading)
    with pytest.raises((ConfigurationError, InvalidInputError), match=match):
        EdgeRouter.from_defaults(**values)


def test_a_settings_file_is_read_into_the_same_model_and_named_values_win(tmp_path):
    path = tmp_path / "edge-router.toml"
    path.write_text('[edge_router]\nmode = "router"\ncloud_share = 0.3\nn_gpu_layers = 12\n'
                    'cloud_prices = [0.15, 0.6]\n', encoding="utf-8")
    settings = RouterSettings.from_toml(path, n_gpu_layers=4)
    assert (settings.mode, settings.cloud_share, settings.n_gpu_layers) == ("router", 0.3, 4)
    assert settings.cloud_prices == (0.15, 0.6)
    path.write_text('thresold = 0.4\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown setting.*thresold"):
        RouterSettings.from_toml(path)


def test_the_command_line_options_come_from_the_settings_model(tmp_path, monkeypatch):
    from edge_router.cli import build_parser

    monkeypatch.setenv("EDGE_ROUTER_CLOUD_PRICES", "1,2")
    args = build_parser().parse_args(["ask", "hi", "--n-gpu-layers", "8", "--cloud-share", "0.2"])
    settings = from_args(args)
    assert (settings.n_gpu_layers, settings.cloud_share, settings.cloud_prices) == (8, 0.2, (1.0, 2.0))
    args = build_parser().parse_args(["route", "hi", "--threshold", "0.2", "--cloud-share", "0.2"])
    with pytest.raises(ConfigurationError, match="--threshold"):
        from_args(args)
    help_text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    assert "--n-gpu-layers" in help_text and "--budget-window" in help_text and "--config" in help_text
    assert "--no-prefill-probe" in help_text and "--quality-target" in help_text
    settings = from_args(build_parser().parse_args(["route", "hi", "--quality-target", "0.8"]))
    assert (settings.quality_target, settings.prefill_probe) == (0.8, None)
    assert from_args(build_parser().parse_args(["ask", "hi", "--no-prefill-probe"])).prefill_probe is False
    with pytest.raises(ConfigurationError, match="--quality-target"):
        from_args(build_parser().parse_args(["route", "hi", "--quality-target", "0.8", "--no-prefill-probe"]))


def test_an_app_tests_its_routing_with_the_public_fakes_and_no_model_files():
    local, cloud = FakeLocal(n_ctx=50, answers=["4"]), FakeCloud(answers=["a long, careful answer"])
    router = EdgeRouter(local=local, cloud=cloud, router=FakeRouter(), embedder=FakeEmbedder(), max_tokens=10)
    assert router.chat("2 + 2?").text == "4"
    answer = router.chat("Explain " + "why " * 30)
    assert answer.text == "a long, careful answer" and answer.route == CLOUD and answer.cost_usd == 0.002
    down = EdgeRouter(local=FakeLocal(n_ctx=50), cloud=FakeCloud(fail=True), router=FakeRouter(),
                      embedder=FakeEmbedder(), max_tokens=10)
    assert down.chat("Explain " + "why " * 30).degraded


def test_a_closed_stream_lets_the_local_model_go():
    router = _router()
    stream = router.stream("hi")
    pieces = iter(stream)
    assert next(pieces) == "local"
    stream.close()
    assert list(pieces) == [] and stream.answer is None
    with router.stream("hi") as again:
        assert "".join(again) == "local answer here"


@pytest.mark.real_models
def test_an_abandoned_real_stream_does_not_hold_the_local_model(local_llm):
    import gc

    router = EdgeRouter(local=local_llm, max_tokens=24)
    pieces = iter(router.stream("Count from one to twenty."))
    next(pieces)
    del pieces
    gc.collect()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (router.chat("Say hi.", max_tokens=4), done.set()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert done.is_set(), "an abandoned stream still held the local model"


def _probe_and_policy(local_model: str, width: int = 2, layer: int = 1):
    import numpy as np

    from edge_router.routing.policy import CombinationPolicy

    weights = np.zeros(width, np.float32)
    weights[0] = 8.0  # a longer prompt: more likely wrong
    probe = StateProbe(local_model=local_model, layer=layer, pooling="last", mean=np.zeros(width, np.float32),
                       scale=np.ones(width, np.float32), weights=weights, bias=-4.0, thresholds={"0.3": 0.6})
    policy = CombinationPolicy(router_weight=0.0, probe_weight=1.0, bias=0.0, thresholds={"0.3": 0.5},
                               local_model=local_model)
    return probe, policy


def test_the_prefill_probe_combines_with_the_router_and_records_its_verdict():
    probe, policy = _probe_and_policy(FakeLocal.id)
    router = _router(state_probe=probe, combination=policy)
    short, long = router.route("hi"), router.route("x" * 80)
    assert [s["name"] for s in short.stages] == ["router", "prefill-probe"]
    assert short.stages[0]["route"] is None, "the router only leaves its score for the combination"
    assert short.route == LOCAL and short.state_score == pytest.approx(1 / (1 + np.exp(4 - 0.16)), abs=1e-4)
    assert long.route == CLOUD and long.threshold == 0.5 and "combined" in long.reason
    assert router.mode == "router+prefill-probe"
    assert router.route("x" * 80, cloud_share=0.3).threshold == 0.5, "a share is read from the policy's table"
    first_layer = _router(state_probe=_probe_and_policy(FakeLocal.id, layer=0)[0],
                          combination=_probe_and_policy(FakeLocal.id)[1])
    assert first_layer.route("x" * 80).route == CLOUD and first_layer.local.read_layers == 1, \
        "an offloaded prompt's prefill stops at the probe's layer"
    assert first_layer.route("hi").route == LOCAL and first_layer.local.read_layers == 2, \
        "a kept prompt's prefill is whole, for the answer to reuse"


def test_a_prefill_probe_for_another_local_model_is_refused():
    probe, policy = _probe_and_policy("some-other-model")
    with pytest.raises(ConfigurationError, match="some-other-model"):
        _router(state_probe=probe, combination=policy)
    with pytest.raises(ConfigurationError, match="together"):
        _router(state_probe=_probe_and_policy(FakeLocal.id)[0])


@pytest.mark.real_models
def test_the_real_prefill_state_feeds_the_probe_and_the_answer_reuses_its_cache(local_llm, cloud_server):
    from edge_router import CloudLLM

    n_embd = local_llm.prefill_state("Hi", keep=False).last.shape[1]
    probe, policy = _probe_and_policy(local_llm.id, width=n_embd, layer=3)
    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=0)
    router = EdgeRouter(local=local_llm, cloud=cloud, router=FakeRouter(), embedder=FakeEmbedder(),
                        state_probe=probe, combination=policy, max_tokens=8)
    local_llm.clear_cache()
    answer = router.chat("What is the capital of France?")
    decision = answer.decision
    assert 0.0 < decision.state_score < 1.0 and decision.timings_ms["prefill_probe"] > 0
    if decision.route == LOCAL:
        assert answer.usage.prompt_tokens > 5 and answer.text
    state = local_llm.prefill_state("What is the capital of France?")
    assert state.last.shape[0] == state.mean.shape[0] + 1 and np.isfinite(state.mean).all()


def test_a_router_trained_for_another_local_model_says_so_in_every_decision(caplog):
    class OtherModelsRouter(FakeRouter):
        local_model = "some-other-local-model"

    with caplog.at_level("WARNING"):
        router = EdgeRouter(local=FakeLocal(), cloud=FakeCloud(), router=OtherModelsRouter(), embedder=FakeEmbedder())
    assert sum("some-other-local-model" in r.message for r in caplog.records) == 1, "warned once"
    for prompt in ("hi", "x" * 80):
        assert "trained on some-other-local-model's answers, not fake-local's" in router.route(prompt).reason
    assert "trained on" not in _router().route("hi").reason


@pytest.mark.real_models
def test_the_shipped_prefill_probe_keeps_plain_everyday_questions_on_the_device(cloud_server):
    from edge_router import CloudLLM

    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=0)
    with EdgeRouter.from_defaults(cloud=cloud, cloud_from_env=False) as router:  # on by default
        assert router.mode == "router+prefill-probe"
        for question in ("What is the capital of France?", "How many legs does a spider have?"):
            decision = router.route(question)
            assert decision.route == LOCAL and decision.state_score is not None, decision.reason
    with EdgeRouter.from_defaults(cloud=cloud, cloud_from_env=False, prefill_probe=False) as router:
        assert router.mode == "router" and router.route("What is the capital of France?").state_score is None


def test_the_prefill_probe_is_on_by_default_only_where_its_policy_fits(tmp_path, caplog):
    from edge_router.files import shipped
    from edge_router.routing.building import _prefill_probe

    if shipped.shipped_state_probe() is None or shipped.shipped_policy() is None:
        pytest.skip("no prefill probe ships in this checkout")
    local_id = StateProbe.load(shipped.shipped_state_probe()).local_model
    router_file, cloud = shipped.shipped_router(), FakeCloud()
    probe, policy = _prefill_probe(RouterSettings(), router_file, local_id, cloud)
    assert probe.local_model == local_id and policy.calibration_rows
    assert _prefill_probe(RouterSettings(prefill_probe=False), router_file, local_id, cloud) == (None, None)
    assert _prefill_probe(RouterSettings(), router_file, local_id, None) == (None, None), "nowhere to offload to"
    own = tmp_path / "own.onnx"
    own.write_bytes(b"not read")
    with caplog.at_level("INFO", logger="edge_router.routing.building"):
        assert _prefill_probe(RouterSettings(), own, local_id, cloud) == (None, None)
        assert _prefill_probe(RouterSettings(), router_file, "another-model", cloud) == (None, None)
    assert sum("the prefill probe is off" in r.message for r in caplog.records) == 2
    with pytest.raises(ConfigurationError, match="shipped router"):
        _prefill_probe(RouterSettings(prefill_probe=True), own, local_id, cloud)
    with pytest.raises(ConfigurationError, match="another-model"):
        _prefill_probe(RouterSettings(prefill_probe=True), router_file, "another-model", cloud)
    with pytest.raises(ConfigurationError, match="offload_by_cost"):
        _prefill_probe(RouterSettings(offload_by_cost=True), own, local_id, cloud)


@pytest.mark.real_models
def test_the_default_decision_from_many_threads_answers_each_prompt_from_its_own_prefill(cloud_server):
    from concurrent.futures import ThreadPoolExecutor

    from edge_router import CloudLLM

    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=0)
    questions = {"What is the capital of France?": "paris", "What is 12 + 7?": "19"}
    with EdgeRouter.from_defaults(cloud=cloud, cloud_from_env=False, max_tokens=16) as router:  # greedy
        assert router.mode == "router+prefill-probe"
        asked = list(questions) * 4
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(router.chat, asked))
    for question, answer in zip(asked, answers):
        assert answer.route == LOCAL and answer.decision.state_score is not None, answer.decision.reason
        assert questions[question] in answer.text.lower(), (question, answer.text)
