"""The priced cascade: when the prefill probe is worth running, and the cost-based offload threshold."""

from __future__ import annotations

import numpy as np
import pytest
from test_stages import _probe_and_policy

from edge_router import EdgeRouter
from edge_router.backends.completions import Prices
from edge_router.config import RouterSettings
from edge_router.errors import ConfigurationError
from edge_router.routing.costs import SHARE_TOLERANCE, CalibrationRows, Cascade, CostMeter, DecisionPrices
from edge_router.routing.decision import CLOUD, LOCAL
from edge_router.routing.policy import CombinationPolicy
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter


def _rows(n: int = 400, seed: int = 0) -> CalibrationRows:
    """Router scores that say little, combined scores that say more, prompts of 20 to 200 tokens."""
    rng = np.random.default_rng(seed)
    router = rng.uniform(size=n)
    combined = np.clip(0.6 * router + 0.4 * rng.uniform(size=n), 0, 1)
    return CalibrationRows(router, combined, rng.integers(20, 200, size=n).astype(float))


def _cascade(prices: DecisionPrices = DecisionPrices(), **meter) -> Cascade:
    return Cascade(_rows(), prices, CostMeter(**{"probe_ms_per_token": 2.3, "probe_kept_ms": 14.0, **meter}),
                   Prices(2.5, 10.0))


def test_a_free_probe_runs_on_every_query_and_a_dear_one_on_none():
    rows = _rows()
    rows = CalibrationRows(rows.router, rows.combined, np.full(len(rows.router), 100.0))

    def band(**prices):
        cascade = Cascade(rows, DecisionPrices(**prices), CostMeter(2.3, 14.0), Prices(2.5, 10.0))
        return cascade.band(cascade.offload_threshold(100, 256), 256, keep=None)
    free = band(device_second_usd=0.0, wait_second_usd=0.0)
    assert free.probed == 1.0 and free.lo == -np.inf and free.hi == np.inf
    dear = band(device_second_usd=1.0, wait_second_usd=1.0)
    assert dear.probed < 0.01, "at a dollar a second the router decides alone"
    assert dear.probed <= band().probed <= free.probed


def test_a_band_for_a_target_share_keeps_that_share_on_the_calibration_rows():
    cascade = _cascade(DecisionPrices(device_second_usd=0.05, wait_second_usd=0.05))
    rows = cascade.rows
    for threshold in (0.3, 0.5, 0.7):
        band = cascade.band(threshold, 256, keep="share")
        probed = (rows.router >= band.lo) & (rows.router <= band.hi)
        offload = np.where(probed, rows.combined >= threshold, rows.router > band.hi)
        assert abs(offload.mean() - (rows.combined >= threshold).mean()) <= SHARE_TOLERANCE
        assert band.probed < 1.0, "probing costs something, so some queries are decided by the router alone"


def test_the_cost_threshold_follows_the_cloud_price_and_the_measured_latencies():
    cascade = _cascade(DecisionPrices(wrong_answer_usd=0.01))
    unmeasured = cascade.offload_threshold(100, 200)
    assert unmeasured == pytest.approx((100 * 2.5 + 200 * 10.0) / 1e6 / 0.01)
    dearer = Cascade(cascade.rows, cascade.prices, CostMeter(), Prices(25.0, 100.0))
    assert dearer.offload_threshold(100, 200) > unmeasured, "a dearer cloud keeps more on the device"
    slow, fast = _cascade(), _cascade()
    for cascade_, cloud_ms in ((slow, 9000), (fast, 500)):
        cascade_.meter.observe_answer(CLOUD, cloud_ms, 200)
        cascade_.meter.observe_answer(LOCAL, 3000, 200)
    assert slow.offload_threshold(100, 200) > fast.offload_threshold(100, 200), \
        "a slow network keeps more on the device"


def test_the_meter_learns_the_probe_cost_from_what_the_probe_did():
    meter = CostMeter(probe_ms_per_token=2.0, probe_kept_ms=10.0)
    meter.observe_probe(400.0, 100, stopped=True)
    meter.observe_probe(30.0, 100, stopped=False)
    seen = meter.snapshot()
    assert seen["probe_ms_per_token"] == 4.0, "the first measurement replaces a guess"
    assert seen["probe_kept_ms"] == 10.0, "a kept prompt's ms are its prefill's, which the answer needed anyway"
    meter.observe_probe(200.0, 100, stopped=True)
    assert 2.0 < meter.snapshot()["probe_ms_per_token"] < 4.0
    assert meter.snapshot()["cloud_s"] is None


@pytest.mark.parametrize("prices", [dict(wrong_answer_usd=0.0), dict(device_second_usd=-1.0),
                                    dict(wait_second_usd=float("nan")), dict(wrong_answer_usd=True)])
def test_prices_that_cannot_be_weighed_are_refused(prices):
    with pytest.raises(ConfigurationError, match="usd"):
        DecisionPrices(**prices)


def test_offloading_by_cost_is_refused_where_it_cannot_work():
    with pytest.raises(ConfigurationError, match="prefill_probe"):
        RouterSettings(offload_by_cost=True, prefill_probe=False)
    with pytest.raises(ConfigurationError, match="cloud_share"):
        RouterSettings(offload_by_cost=True, cloud_share=0.3)
    with pytest.raises(ConfigurationError, match="price"):
        RouterSettings(price_device_second=-0.1)
    with pytest.raises(ConfigurationError, match="cascade"):
        _router_with_cascade(by_cost=True, cascade=None)


def _router_with_cascade(*, by_cost: bool = False, cascade=None, prices: DecisionPrices = DecisionPrices(),
                         rows: CalibrationRows | None = None, **kwargs) -> EdgeRouter:
    probe, policy = _probe_and_policy(FakeLocal.id)
    if cascade is None and rows is not None:
        cascade = Cascade(rows, prices, CostMeter(probe_ms_per_token=2.0, probe_kept_ms=10.0), Prices(2.5, 10.0))
    return EdgeRouter(local=FakeLocal(n_ctx=200), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                      max_tokens=10, state_probe=probe, combination=policy, cascade=cascade,
                      offload_by_cost=by_cost, **kwargs)


def _band_rows() -> CalibrationRows:
    """Calibration rows where the probe only tells queries apart between router scores 0.3 and 0.7."""
    router = np.linspace(0, 1, 101)
    combined = np.where(router < 0.3, 0.05, np.where(router > 0.7, 0.95, np.tile([0.1, 0.9], 51)[:101]))
    return CalibrationRows(router, combined, np.full(101, 50.0))


def test_outside_its_band_the_router_decides_without_reading_the_local_state():
    router = _router_with_cascade(rows=_band_rows(), prices=DecisionPrices(device_second_usd=0.01))
    local = router.local
    local.read_layers = 0
    short = router.route("hi")  # router score 0.02: below the band
    assert short.route == LOCAL and "decided without the probe" in short.reason and local.read_layers == 0
    long = router.route("x" * 95)  # 0.95: above it
    assert long.route == CLOUD and "above the prefill probe's band" in long.reason and local.read_layers == 0
    middle = router.route("x" * 50)
    assert local.read_layers > 0 and "combined" in middle.reason, "inside the band the probe reads the state"


def test_offloading_by_cost_prices_each_query_and_learns_from_the_answers():
    router = _router_with_cascade(rows=_band_rows(), by_cost=True,
                                  prices=DecisionPrices(wrong_answer_usd=0.001, device_second_usd=0.0,
                                                        wait_second_usd=0.0))
    decision = router.route("x" * 50)
    assert "cheaper route" in decision.reason
    assert decision.threshold == pytest.approx(router.cascade.offload_threshold(1, 10))
    router.chat("hi")
    assert router.cascade.meter.snapshot()["local_s"] is not None, "every answer's time feeds the meter"


def test_the_shipped_policy_file_carries_calibration_rows_for_the_cascade():
    from edge_router.files.shipped import shipped_policy

    path = shipped_policy()
    if path is None:
        pytest.skip("no policy file ships in this checkout")
    policy = CombinationPolicy.load(path)
    rows = policy.calibration()
    assert len(rows.router) >= 200 and rows.tokens.min() > 0 and 0 < rows.combined.mean() < 1
    assert policy.probe_ms["offloaded_per_token"] > 0


@pytest.mark.real_models
def test_the_shipped_cascade_prices_real_queries_and_measures_each_answer(cloud_server):
    from edge_router import CloudLLM

    cloud = CloudLLM(base_url=cloud_server.base_url, model="m", prices=Prices(0.15, 0.6), max_retries=0)
    with EdgeRouter.from_defaults(cloud=cloud, cloud_from_env=False, prefill_probe=True, offload_by_cost=True,
                                  max_tokens=16) as router:
        assert router.cascade is not None and router.offload_by_cost
        answer = router.chat("What is the capital of France?")
        decision = answer.decision
        assert "prefill-probe" in [s["name"] for s in decision.stages] and "cost" in decision.reason
        assert decision.threshold < 0.05 and answer.route == CLOUD, \
            "at 0.15/0.60 USD per million tokens and nothing measured yet the cloud is the cheaper route"
        assert router.cascade.meter.snapshot()[f"{answer.route}_s"] > 0, "the answer's time was measured"
    with pytest.raises(ConfigurationError, match="token prices"):
        EdgeRouter.from_defaults(cloud=CloudLLM(base_url=cloud_server.base_url, model="m"), cloud_from_env=False,
                                 prefill_probe=True, offload_by_cost=True)


def _rows_with_outcomes(n: int = 400, seed: int = 1) -> CalibrationRows:
    rows = _rows(n, seed)
    better = np.random.default_rng(seed).uniform(size=n) < rows.combined  # calibrated: P(better) = combined
    return CalibrationRows(rows.router, rows.combined, rows.tokens, better)


def test_a_quality_target_offloads_the_fewest_queries_that_catch_that_share_of_the_clouds_gains():
    rows = _rows_with_outcomes()
    thresholds = [rows.threshold_for_quality(q) for q in (0.5, 0.8, 0.95, 1.0)]
    assert thresholds == sorted(thresholds, reverse=True), "more quality, lower threshold, more offloaded"
    for q, t in zip((0.5, 0.8, 0.95, 1.0), thresholds):
        caught = rows.quality(rows.combined >= t)
        assert caught >= q and rows.quality(rows.combined > t) < q, "the highest threshold that reaches q"
    with pytest.raises(ConfigurationError, match="share"):
        rows.threshold_for_quality(0.0)
    with pytest.raises(ConfigurationError, match="outcomes"):
        _rows().threshold_for_quality(0.5)


def test_a_band_for_a_quality_target_keeps_that_quality_on_the_calibration_rows():
    rows = _rows_with_outcomes()
    cascade = Cascade(rows, DecisionPrices(device_second_usd=0.05, wait_second_usd=0.05), CostMeter(2.3, 14.0),
                      Prices(2.5, 10.0))
    threshold = rows.threshold_for_quality(0.8)
    band = cascade.band(threshold, 256, keep="quality")
    probed = (rows.router >= band.lo) & (rows.router <= band.hi)
    offload = np.where(probed, rows.combined >= threshold, rows.router > band.hi)
    every = rows.combined >= threshold
    assert rows.quality(offload) >= rows.quality(every) - SHARE_TOLERANCE
    assert offload.mean() <= every.mean() + SHARE_TOLERANCE, "no more offloaded than with the probe on every query"
    assert band.probed < 1.0
    with pytest.raises(ValueError, match="keep"):
        cascade.band(threshold, 256, keep="shares")


def test_the_router_offloads_at_the_quality_targets_threshold_and_says_so():
    rows = _rows_with_outcomes(200)
    probe, _ = _probe_and_policy(FakeLocal.id)
    policy = CombinationPolicy(router_weight=0.0, probe_weight=1.0, bias=0.0, thresholds={"0.3": 0.5},
                               local_model=FakeLocal.id, calibration_rows=tuple(
                                   (float(r), float(c), bool(b), int(t))
                                   for r, c, b, t in zip(rows.router, rows.combined, rows.better, rows.tokens)))
    router = EdgeRouter(local=FakeLocal(n_ctx=200), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                        max_tokens=10, state_probe=probe, combination=policy, quality_target=0.9)
    decision = router.route("x" * 50)
    assert decision.threshold == pytest.approx(policy.threshold_for_quality(0.9))
    assert "90% of the calibration queries only it answered right" in router.policy.source
    with pytest.raises(ConfigurationError, match="prefill probe"):
        EdgeRouter(local=FakeLocal(), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                   quality_target=0.9)


@pytest.mark.parametrize("settings", [dict(quality_target=0.5, cloud_share=0.3), dict(quality_target=1.5),
                                      dict(quality_target=0.5, prefill_probe=False),
                                      dict(quality_target=0.5, offload_by_cost=True)])
def test_quality_targets_that_cannot_work_are_refused(settings):
    with pytest.raises(ConfigurationError, match="quality_target"):
        RouterSettings(**settings)


def test_the_shipped_policy_reads_a_quality_target_from_its_calibration_rows():
    from edge_router.files.shipped import shipped_policy

    if shipped_policy() is None:
        pytest.skip("no policy file ships in this checkout")
    policy = CombinationPolicy.load(shipped_policy())
    rows = policy.calibration()
    assert rows.better.any() and not rows.better.all()
    half, most = policy.threshold_for_quality(0.5), policy.threshold_for_quality(0.9)
    assert 0.0 < most < half < 1.0
    assert (rows.combined >= most).mean() > (rows.combined >= half).mean()


def test_offloading_by_cost_holds_the_answer_check_to_the_price_threshold():
    from test_answer_check import CheckedLocal, _probe

    from edge_router.uncertainty.answer_check import AnswerCheck

    probe, policy = _probe_and_policy(FakeLocal.id)
    cascade = Cascade(_band_rows(), DecisionPrices(wrong_answer_usd=0.001, device_second_usd=0.0,
                                                   wait_second_usd=0.0), CostMeter(2.0, 10.0), Prices(2.5, 10.0))

    def router(by_cost: bool) -> EdgeRouter:
        return EdgeRouter(local=CheckedLocal(logprob=-0.05), cloud=FakeCloud(), router=FakeRouter(),
                          embedder=FakeEmbedder(), max_tokens=10, state_probe=probe, combination=policy,
                          cascade=cascade, offload_by_cost=by_cost, answer_check=AnswerCheck(_probe(), 0.99))
    priced = router(True).chat("hi").decision
    assert priced.check_score is not None and priced.check_threshold == pytest.approx(priced.threshold)
    assert priced.check_threshold < 0.99, "the price threshold, not the check's own"
    assert router(False).chat("hi").decision.check_threshold == 0.99
