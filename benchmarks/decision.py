"""The local-model-aware decision, measured: ``benchmarks/results/decision.md`` and ``decision.json``.

Reads what the other jobs measured (nothing here loads a model): the prefill probe's card
(``models/probes/prefill_state.card.json``: every layer and pooling, the combination with the router), the
answer check's and the semantic-entropy gate's figures (``confidence.json``), the decision's timings
(``decision_timing.json``, ``overhead.json``), and evaluates on the on-device pair's GSM8K and MMLU outcomes
(never trained on) the router alone, the probe alone and the shipped policy (router + probe), beside random and
the oracle: CPT(50%), APGR, and the accuracy of the whole system at cloud shares of 10 … 50 %; then the cascade
(``routing.costs``: the probe only where it is worth its cost, and offloading by cost) on the same rows. The
default decision is the policy where it ships (``--no-prefill-probe``: the router alone).

    python benchmarks/decision.py
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from edge_router import Embedder, defaults
from edge_router.backends.completions import Prices
from edge_router.backends.router_model import RouterModel, trained_on
from edge_router.bench import environment
from edge_router.bench.pages import fmt, pct, write_json
from edge_router.data import eval_data
from edge_router.data.embedding_cache import EmbeddingCache
from edge_router.data.local_outcomes import read_outcomes
from edge_router.evaluation.policy_scores import default_policy_scores, stored_probe_scores, stored_prompt_tokens
from edge_router.evaluation.quality import strong_mask
from edge_router.evaluation.runner import DEFAULT_PRICES, ORACLE, RANDOM, evaluate
from edge_router.files.shipped import shipped_policy, shipped_router
from edge_router.routing.costs import CalibrationRows, Cascade, CostMeter, DecisionPrices, ProbeBand, routes
from edge_router.routing.policy import CombinationPolicy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CARD = ROOT / "models" / "probes" / "prefill_state.card.json"
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5)
QUALITIES = (0.5, 0.7, 0.9)  # quality targets: the share of the queries only the cloud answers right sent to it
SEEDS = 20
TARGETS = {"gsm8k": 0.10, "mmlu": 0.15}  # CPT(50%) at most random's minus this
TARGET_APGR, TARGET_AUROC, TARGET_KEPT_SHARE, TARGET_OFFLOAD_MS = 0.65, 0.80, 0.05, 300.0
OUTCOMES = ROOT / "models" / "eval" / "outcomes"
LOCAL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
CLOUD_SECONDS = (1.0, 4.0, 16.0)  # a cloud answer's time, as the meter would measure it online
CLOUD_PRICES = {"small hosted model, 0.15/0.60": DEFAULT_PRICES["on-device"].strong, "GPT-4 class, 10/30":
                Prices(10.0, 30.0)}  # USD per million input/output tokens
EVERY_QUERY = ProbeBand(-np.inf, np.inf, 1.0, float("nan"))


def _json(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def system_accuracy(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray, share: float) -> float:
    mask = strong_mask(scores, share)
    return float(np.where(mask, strong, weak).mean())


def evaluate_pair() -> list[dict]:
    """Router, probe and policy on the on-device pair's GSM8K and MMLU outcomes."""
    router_path = shipped_router()
    embedder = Embedder(name=trained_on(router_path))
    router = RouterModel(router_path, embedder_id=embedder.id, dim=embedder.dim)
    stored = stored_probe_scores()
    out = []
    for benchmark in ("gsm8k", "mmlu"):
        eval_set = eval_data.load(benchmark, "on-device")
        routed = router.score(EmbeddingCache(embedder).embed(eval_set.prompts))
        scores = {"router alone": routed}
        if all(k in stored for k in eval_set.keys):
            scores["prefill probe alone"] = np.array([stored[k] for k in eval_set.keys])
        policy, name = default_policy_scores(eval_set, routed)
        if name != "router":
            scores[f"default decision ({name})"] = policy
        result = evaluate(eval_set, scores, seeds=SEEDS)
        strong, weak = eval_set.strong, eval_set.weak
        curves = {n: [system_accuracy(s, strong, weak, share) for share in SHARES]
                  for n, s in {**scores, ORACLE: strong - weak}.items()}
        curves[RANDOM] = [float(np.mean([system_accuracy(np.random.default_rng(seed).random(len(strong)), strong,
                                                         weak, share) for seed in range(SEEDS)])) for share in SHARES]
        for r in result["routers"].values():
            r.pop("curve", None)
        out.append({**result, "accuracy_at_share": curves, "cascade": cascade_results(eval_set, routed)})
    return out


def _cascade(policy: CombinationPolicy, token_prices: Prices) -> Cascade:
    """The cascade as the SDK builds it: default prices, the probe's cost measured at build, nothing else yet."""
    meter = CostMeter(policy.probe_ms.get("offloaded_per_token"), policy.probe_ms.get("kept"))
    return Cascade(policy.calibration(), DecisionPrices(), meter, token_prices)


def run_cascade(cascade: Cascade, rows: CalibrationRows, strong: np.ndarray, weak: np.ndarray,
                thresholds: np.ndarray, bands: list[ProbeBand]) -> dict:
    """What the cascade does on evaluation rows: each row's threshold and band as the stage would choose them."""
    lo, hi = np.array([b.lo for b in bands]), np.array([b.hi for b in bands])
    probed, offload = routes(rows.router, rows.combined, thresholds, lo, hi)
    m = cascade.meter.snapshot()
    ms = probed * np.where(offload, rows.tokens * m["probe_ms_per_token"], m["probe_kept_ms"])
    better = (strong > weak)
    accuracy = float(np.where(offload, strong, weak).mean())
    return {"threshold": float(np.median(thresholds)), "cloud_share": float(offload.mean()), "accuracy": accuracy,
            "quality": float((offload & better).sum() / max(better.sum(), 1)),
            "pgr": (accuracy - weak.mean()) / (strong.mean() - weak.mean()), "probed": float(probed.mean()),
            "probe_ms": float(ms.mean())}


def cascade_results(eval_set, routed: np.ndarray) -> dict:
    """The cascade on the evaluation rows: at each calibrated share (beside the probe on every query), and
    offloading by cost at two cloud prices and three cloud answer times."""
    policy_path, stored, tokens = shipped_policy(), stored_probe_scores(), stored_prompt_tokens()
    if policy_path is None or not all(k in stored and k in tokens for k in eval_set.keys):
        return {}
    policy = CombinationPolicy.load(policy_path)
    combined = np.array([policy.score(float(r), stored[k]) for r, k in zip(routed, eval_set.keys)])
    rows = CalibrationRows(np.asarray(routed), combined, np.array([tokens[k] for k in eval_set.keys], float))
    strong, weak, n = eval_set.strong, eval_set.weak, len(eval_set)
    by_share = []
    for share in SHARES:
        cascade, threshold = _cascade(policy, CLOUD_PRICES["small hosted model, 0.15/0.60"]), \
            policy.threshold_for_share(share)
        band = cascade.band(threshold, defaults.MAX_TOKENS, keep="share")
        by_share.append({"share": share, "band": [band.lo, band.hi], **{
            name: run_cascade(cascade, rows, strong, weak, np.full(n, threshold), [b] * n)
            for name, b in (("cascade", band), ("every query", EVERY_QUERY))}})
    by_quality = []
    for quality in QUALITIES:
        cascade, threshold = _cascade(policy, CLOUD_PRICES["small hosted model, 0.15/0.60"]), \
            policy.threshold_for_quality(quality)
        band = cascade.band(threshold, defaults.MAX_TOKENS, keep="quality")
        calibration = policy.calibration()
        by_quality.append({"target": quality, "threshold": threshold, "band": [band.lo, band.hi],
                           "calibration_share": float((calibration.combined >= threshold).mean()),
                           **run_cascade(cascade, rows, strong, weak, np.full(n, threshold), [band] * n)})
    answered = read_outcomes(OUTCOMES / f"{LOCAL}.jsonl.gz")
    out_tokens = float(np.mean([answered[k]["completion_tokens"] for k in eval_set.keys]))
    decode = _json("local_models.json").get("speed", {}).get(LOCAL, {}).get("decode_tok_s")
    by_cost = []
    for name, prices in CLOUD_PRICES.items():
        for cloud_s in CLOUD_SECONDS if decode else ():
            cascade = _cascade(policy, prices)
            cascade.meter.observe_answer("cloud", cloud_s * 1e3, round(out_tokens))
            cascade.meter.observe_answer("local", out_tokens / decode * 1e3, round(out_tokens))
            thresholds = np.array([cascade.offload_threshold(int(t), defaults.MAX_TOKENS) for t in rows.tokens])
            bands = [cascade.band(t, defaults.MAX_TOKENS, keep=None) for t in thresholds]
            by_cost.append({"prices": name, "cloud_s": cloud_s, "local_s": out_tokens / decode,
                            **run_cascade(cascade, rows, strong, weak, thresholds, bands)})
    return {"by_share": by_share, "by_quality": by_quality, "by_cost": by_cost, "prices": DecisionPrices().__dict__}


def signals_table(card: dict, confidence: dict) -> list[str]:
    """Each signal's cost and AUROCs: label split columns are for "only the strong answer is right" (what the
    policy is fitted to), outcome columns for both targets."""
    lines = ["| signal | cost per query | AUROC strong better, label calibration / test | GSM8K local wrong | "
             "GSM8K strong better | MMLU local wrong | MMLU strong better |", "|---|---|---|---|---|---|---|"]
    timing = _json("decision_timing.json").get("ms_median", {}).get("64", {})
    overhead = _json("overhead.json")
    router_ms = overhead.get("decision", {}).get("threads_1", {}).get("32", {}).get("total", {}).get("p50")
    rows = [("embedding router (shipped kNN)", card.get("router_alone", {}), f"{fmt(router_ms, 1)} ms (32 tokens)")]
    for target, c in card.get("candidates", {}).items():
        shipped = " (ships)" if card.get("ships") == target else ""
        cost = (f"{fmt(timing.get('probe_early'), 0)} ms (64 tokens, read to its layer)" if shipped else
                f"{fmt(timing.get('probe'), 0)} ms (64 tokens, whole read)")
        rows.append((f"router + probe for \"{target}\" (layer {c['layer']}, {c['pooling']}){shipped}",
                     c["policy_aurocs_strong_better"], cost))
    for name, a, cost in rows:
        lines.append(f"| {name} | {cost} | {fmt(a.get('auroc_calibration'))} / {fmt(a.get('auroc_test'))} | "
                     f"{fmt(a.get('auroc_gsm8k_local_wrong'))} | {fmt(a.get('auroc_gsm8k_strong_better'))} | "
                     f"{fmt(a.get('auroc_mmlu_local_wrong'))} | {fmt(a.get('auroc_mmlu_strong_better'))} |")
    sets, live = confidence.get("sets", {}), confidence.get("live", {})
    check = [sets.get(s, {}).get("probe", {}).get("auroc") for s in ("label rows, test split", "gsm8k outcomes",
                                                                       "mmlu outcomes")]
    lines.append(f"| answer check (16 held tokens; confidence.md: AUROC local wrong) | "
                 f"{fmt(live.get('hold_ms'), 0)} ms held | — / {fmt(check[0])} (local wrong) | {fmt(check[1])} | — | "
                 f"{fmt(check[2])} | — |")
    se = confidence.get("se", {}).get("exact", {})
    lines.append(f"| semantic entropy, k = 5, exact match (confidence.md: AUROC local wrong) | "
                 f"{fmt(se.get('ms'), 0)} ms | — / {fmt(se.get('counts', {}).get('auroc'))} (local wrong) | "
                 "— | — | — | — |")
    return lines


def layers_table(trials: list[dict], shipped: dict | None) -> list[str]:
    lines = ["| pooling | layer | L2 | AUROC calibration | test | test, label rows | test, label rows as plain chat | "
             "test, GSM8K train | GSM8K local wrong | GSM8K strong better | MMLU local wrong | MMLU strong better |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in trials:
        mark = " (chosen)" if shipped and (t["pooling"], t["layer"]) == (shipped["pooling"], shipped["layer"]) else ""
        lines.append(f"| {t['pooling']} | {t['layer']}{mark} | {t['l2']:g} | {fmt(t['auroc_calibration'])} | "
                     f"{fmt(t['auroc_test'])} | {fmt(t.get('auroc_test_labels'))} | "
                     f"{fmt(t.get('auroc_test_labels-plain'))} | "
                     f"{fmt(t.get('auroc_test_gsm8k-train'))} | {fmt(t.get('auroc_gsm8k_local_wrong'))} | "
                     f"{fmt(t.get('auroc_gsm8k_strong_better'))} | {fmt(t.get('auroc_mmlu_local_wrong'))} | "
                     f"{fmt(t.get('auroc_mmlu_strong_better'))} |")
    return lines


def pair_tables(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        lines += [f"### {r['benchmark'].upper()} (n = {r['n']}; 0.5B right {pct(r['weak_mean'])}, 1.5B right "
                  f"{pct(r['strong_mean'])})", "",
                  "| decision | CPT(50%) | APGR | " + " | ".join(f"accuracy at {pct(s)} cloud" for s in SHARES) + " |",
                  "|---|---|---|" + "---|" * len(SHARES)]
        for name, v in r["routers"].items():
            spread = f" ± {100 * v['spread']['cpt50']:.1f}" if "spread" in v else ""
            accuracy = " | ".join(pct(a) for a in r["accuracy_at_share"][name])
            lines.append(f"| {name} | {pct(v['cpt50'])}{spread} | {fmt(v['apgr'])} | {accuracy} |")
        lines.append("")
    return lines


def cascade_tables(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        c = r.get("cascade")
        if not c:
            continue
        lines += [f"### {r['benchmark'].upper()}", "",
                  "| calibrated share | band of router scores probed | cascade: cloud share | accuracy | probed | "
                  "probe ms / query | probe on every query: cloud share | accuracy | probe ms / query |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in c["by_share"]:
            a, e = row["cascade"], row["every query"]
            lines.append(f"| {pct(row['share'])} | [{fmt(row['band'][0])}, {fmt(row['band'][1])}] | "
                         f"{pct(a['cloud_share'])} | {pct(a['accuracy'])} | {pct(a['probed'])} | "
                         f"{fmt(a['probe_ms'], 0)} | {pct(e['cloud_share'])} | {pct(e['accuracy'])} | "
                         f"{fmt(e['probe_ms'], 0)} |")
        lines += ["", "| quality target (calibration: share of the queries only the cloud answers right sent to it) | "
                  "threshold | band probed | calibration cloud share | cloud share | quality reached | PGR | accuracy "
                  "| probe ms / query |", "|---|---|---|---|---|---|---|---|---|"]
        for row in c.get("by_quality", []):
            lines.append(f"| {pct(row['target'])} | {fmt(row['threshold'])} | [{fmt(row['band'][0])}, "
                         f"{fmt(row['band'][1])}] | {pct(row['calibration_share'])} | {pct(row['cloud_share'])} | "
                         f"{pct(row['quality'])} | {fmt(row['pgr'])} | {pct(row['accuracy'])} | "
                         f"{fmt(row['probe_ms'], 0)} |")
        lines += ["", "| offloading by cost: cloud price (USD / M tokens in/out) | cloud answer, s | local answer, s | "
                  "threshold (median) | cloud share | accuracy | probed | probe ms / query |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in c["by_cost"]:
            lines.append(f"| {row['prices']} | {row['cloud_s']:g} | {row['local_s']:.2g} | {fmt(row['threshold'])} | "
                         f"{pct(row['cloud_share'])} | {pct(row['accuracy'])} | {pct(row['probed'])} | "
                         f"{fmt(row['probe_ms'], 0)} |")
        lines.append("")
    return lines


def targets(results: list[dict], card: dict) -> list[str]:
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    for r in results:
        rnd = r["routers"][RANDOM]
        goal = rnd["cpt50"] - TARGETS[r["benchmark"]]
        for name in [n for n in r["routers"] if n == "router alone" or n.startswith("default decision")]:
            v = r["routers"][name]
            which = "the router alone, --no-prefill-probe" if name == "router alone" else name
            gap, short = v["cpt50"] - goal, TARGET_APGR - v["apgr"]
            lines.append(f"| {r['benchmark']}: CPT(50%) ≤ random − {100 * TARGETS[r['benchmark']]:.0f} pts = "
                         f"{pct(goal)} | {pct(v['cpt50'])} ({which}) | "
                         f"{'met' if gap <= 0 else f'missed by {100 * gap:.1f} pts'} |")
            lines.append(f"| {r['benchmark']}: APGR ≥ {TARGET_APGR} | {fmt(v['apgr'])} ({which}) | "
                         f"{'met' if short <= 0 else f'missed by {short:.3f}'} |")
    local_wrong = card.get("candidates", {}).get("local wrong", {}).get("probe", {})
    test = local_wrong.get("auroc_test_labels")
    if test is not None:
        # The label test split is the label rows' (as labelling asked them); the test rows of their plain-chat
        # copies and of the GSM8K training answers are shown beside it.
        others = (f"; as plain chats {fmt(local_wrong.get('auroc_test_labels-plain'))}, the whole test split with "
                  f"the GSM8K training answers' {fmt(local_wrong.get('auroc_test'))}")
        lines.append(f"| label test split: AUROC local wrong ≥ {TARGET_AUROC} before generation (the \"local wrong\" "
                     f"probe at layer {local_wrong['layer']}, {local_wrong['pooling']}) | {fmt(test)} (the label rows"
                     f"{others}) | {'met' if test >= TARGET_AUROC else f'missed by {TARGET_AUROC - test:.3f}'} |")
    timing = _json("decision_timing.json").get("ms_median", {}).get("64")
    if timing and "kept_extra" in timing:
        # A kept prompt's answer needs its prefill anyway: the decision's extra device time is the probe's read
        # plus the answer's first step after it, less the prefill the answer no longer makes (the median of the
        # paired differences). An offloaded prompt's read stops at the probe's layer.
        extra = timing["kept_extra"]
        kept = extra / timing["answer_64"]
        lines.append(f"| device time deciding ≤ {100 * TARGET_KEPT_SHARE:.0f} % of a kept 64-token prompt's "
                     f"64-token answer | {pct(kept)} ({fmt(extra, 0)} ms) | "
                     f"{'met' if kept <= TARGET_KEPT_SHARE else 'missed'} |")
        over = timing["probe_early"] - TARGET_OFFLOAD_MS
        lines.append(f"| ≤ {TARGET_OFFLOAD_MS:.0f} ms for an offloaded 64-token prompt (the probe's prefill, "
                     f"stopped at its layer; {fmt(timing['probe'], 0)} ms whole) | {fmt(timing['probe_early'], 0)} ms "
                     f"| {'met' if over <= 0 else f'missed by {over:.0f} ms'} |")
    return lines


def memory_lines() -> list[str]:
    reader_mb = _json("decision_timing.json").get("reader_mb")
    if reader_mb is None:
        return []
    return [f"The prefill probe reads the state in a llama.cpp context of its own, created on the first read: it adds "
            f"{fmt(reader_mb, 0)} MB resident (its KV cache and buffers at the local model's context size; the "
            "weights are shared), measured by `decision_timing.py`.", ""]


def in_domain_lines(card: dict) -> list[str]:
    """The GSM8K-only cross-fit of ``build_state.gsm8k_in_domain``: why the probe cannot pick GSM8K's gains."""
    d = card.get("gsm8k_in_domain")
    if not d or not d["layers"]:
        return []
    rows = [(layer, v) for layer, v in d["layers"].items() if "local wrong ranks strong better" in v]
    lines = ["## Why GSM8K is missed", "",
             f"A probe cross-fitted (5 folds) on the GSM8K training answers alone ({d['rows']['local wrong']:,} "
             f"answered by the local model, {d['rows']['strong better']:,} by both; the strong side better on "
             f"{pct(d['strong_better_share'])}), on the local model's last-token state; AUROC:", "",
             "| layer | local wrong | strong better | the \"local wrong\" score, ranking strong better |",
             "|---|---|---|---|"]
    lines += [f"| {layer} | {fmt(v['local wrong'])} | {fmt(v['strong better'])} | "
              f"{fmt(v['local wrong ranks strong better'])} |" for layer, v in rows]
    def span(key: str) -> str:
        return f"{fmt(min(v[key] for _, v in rows))}–{fmt(max(v[key] for _, v in rows))}"
    if rows and max(v["strong better"] for _, v in rows) < 0.6 \
            and max(v["local wrong ranks strong better"] for _, v in rows) < 0.5:
        lines += ["", f"In its own domain the local state tells when the small model fails ({span('local wrong')}) "
                  f"but hardly when only the strong one succeeds ({span('strong better')}), and the failures it "
                  f"finds rank that target at {span('local wrong ranks strong better')}: the questions the 0.5B "
                  "gets wrong are mostly those the 1.5B gets wrong too. What offloading gains on GSM8K comes from "
                  "the questions only the strong side answers, which nothing measured before generation here picks "
                  "out."]
    return [*lines, ""]


def main() -> int:
    card = json.loads(CARD.read_text(encoding="utf-8")) if CARD.is_file() else {}
    confidence = _json("confidence.json")
    results = evaluate_pair()
    report = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": environment.describe(), "probe_card": {k: v for k, v in card.items() if k != "trials"},
              "timing": _json("decision_timing.json"), "results": results}
    write_json(report, RESULTS / "decision.json")
    lines = ["# The local-model-aware decision", "",
             f"Generated {report['generated']} by `benchmarks/decision.py` on {report['environment']['cpu']} "
             f"({report['environment']['cores']} cores). Evaluation sets are the on-device pair's measured GSM8K and "
             "MMLU outcomes (Qwen2.5-Coder-0.5B on the device, the 1.5B as the cloud), never trained on; random is "
             f"the mean of {SEEDS} seeds.", "", "## Targets", "", *targets(results, card), "",
             "## Each signal: what it costs, how well it ranks", "", *signals_table(card, confidence), "",
             *memory_lines(),
             "## The system at each cloud share", "", *pair_tables(results),
             "## The cascade: when the probe runs, and offloading by cost", "",
             "The probe's stage runs the probe only where the router's score lies in the band of least expected cost "
             "on the policy's calibration rows (outside it the router decides alone), at the SDK's default prices: "
             f"a worse answer {defaults.WRONG_ANSWER_USD:g} USD, a device second {defaults.DEVICE_SECOND_USD:g}, a "
             f"second of waiting {defaults.WAIT_SECOND_USD:g}. The probe's cost is the one measured at build "
             "(`decision_timing.json`: ms per prompt token of a stopped prefill, ms added to a kept one); the "
             "evaluation rows' prompt lengths are their own. A calibrated share keeps the calibration rows' share "
             "within 2 points. A quality target (`--quality-target Q`) offloads at the threshold that sends the "
             "cloud Q of the calibration rows only it answers right, its band keeping that within 2 points without "
             "sending "
             "more than 2 points more out; \"quality reached\" is the same share on the evaluation rows. "
             "Offloading by cost (`--offload-by-cost`) sets each query's threshold from the cloud's "
             "token prices and the answer times the meter measures online: here the cloud's time is set, the local "
             "answer's is the benchmark's mean answer length at the measured decode rate (`local_models.json`).", "",
             *cascade_tables(results), *in_domain_lines(card),
             *[line for target, trials in card.get("trials", {}).items() for line in (
                 f"## The prefill probe for \"{target}\", by layer and pooling", "",
                 f"Trained on the train split ({card['rows'][target]['train']} rows), L2 and layer chosen on the "
                 f"calibration split ({card['rows'][target]['calibration']}), reported on the test split "
                 f"({card['rows'][target]['test']}) and the evaluation outcomes.", "",
                 *layers_table(trials, card["candidates"][target]), "")]]
    (RESULTS / "decision.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(targets(results, card)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
