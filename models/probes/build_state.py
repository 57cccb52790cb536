"""Train the prefill-state probe (P(local answer wrong) from the local model's own state) and ship the best one.

    python models/probes/build_state.py

Inputs: the prefill states stored by ``benchmarks/decision_data.py`` (in the cache), "local answer wrong" of
the Qwen pair's label rows (``models/routers/qwen-pair.labels.jsonl.gz``: short answers) and of the GSM8K
training answers (``models/probes/gsm8k-train/``: step by step, the benchmark's format). Both have hash splits
(70 % train, 15 % calibration, 15 % test). For every layer and pooling (last token, mean) and each L2 strength
a logistic probe is fit on the train split; the one with the best calibration AUROC ships as
``prefill_state.json`` with the thresholds of its calibration scores. The test split only reports, and the
evaluation outcomes (GSM8K and MMLU test) are never trained on: their scores are written for ``edge-router eval``
(``prefill_state.scores.jsonl.gz``), and per-layer AUROCs on them go to ``prefill_state.card.json``.

Then the default decision's policy: a logistic combination of logit(router score) (the shipped router) and
logit(probe score), fitted on the same calibration rows, with the thresholds of its calibration scores per cloud
share, written to ``models/routers/policy.json``; its AUROCs go to the card too.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from decision_data import LOCAL, OUTCOMES, STRONG, feature_store, work_path  # noqa: E402

from edge_router import Embedder, RouterModel  # noqa: E402
from edge_router.backends.router_model import trained_on  # noqa: E402
from edge_router.bench import environment  # noqa: E402
from edge_router.data import datasets, eval_data  # noqa: E402
from edge_router.data.embedding_cache import EmbeddingCache  # noqa: E402
from edge_router.data.local_outcomes import read_outcomes  # noqa: E402
from edge_router.files.shipped import shipped_router  # noqa: E402
from edge_router.metrics import auroc  # noqa: E402
from edge_router.training.labels import read_rows, split_of  # noqa: E402
from edge_router.training.logistic import fit_logistic, share_thresholds  # noqa: E402
from edge_router.uncertainty.state_probe import StateProbe  # noqa: E402

HERE = Path(__file__).parent
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
PROBE = HERE / "prefill_state.json"
POLICY = ROOT / "models" / "routers" / "policy.json"
CARD = HERE / "prefill_state.card.json"
SCORES = HERE / "prefill_state.scores.jsonl.gz"
L2 = (10.0, 100.0, 1000.0)
POOLINGS = ("last", "mean")


def training_rows() -> dict[str, tuple[str, bool]]:
    """Feature key → (split, local answer wrong) for label rows and GSM8K training answers."""
    rows = {}
    for r in read_rows(LABELS):
        if r["weak"].get("correct") is not None:
            rows[f"labels/{r['id']}"] = (r["split"], r["weak"]["correct"] is False)
    snapshot = HERE / "gsm8k-train" / f"{LOCAL}.jsonl.gz"
    source = snapshot if snapshot.is_file() else work_path(LOCAL)
    answered = read_outcomes(source)
    if answered:
        questions = {p.index: p.question for p in datasets.load("gsm8k-train")}
        for r in answered.values():
            rows[f"gsm8k-train/{r['index']}"] = (split_of(questions[r["index"]]), not r["correct"])
    return rows


def outcome_rows() -> dict[str, tuple[bool, bool]]:
    """Feature key → (local wrong, strong better) for the evaluation outcomes (never trained on)."""
    weak = read_outcomes(OUTCOMES / f"{LOCAL}.jsonl.gz")
    strong = read_outcomes(OUTCOMES / f"{STRONG}.jsonl.gz")
    return {f"outcomes/{k}": (not w["correct"], bool(strong[k]["correct"]) and not w["correct"])
            for k, w in weak.items() if k in strong}


def texts_by_key(keys: list[str]) -> dict[str, str]:
    """The routing text (the question, as the router reads it) of every key."""
    texts = {f"labels/{r['id']}": r["prompt"] for r in read_rows(LABELS)}
    if any(k.startswith("gsm8k-train/") for k in keys):
        texts |= {f"gsm8k-train/{p.index}": p.question for p in datasets.load("gsm8k-train")}
    for benchmark in ("gsm8k", "mmlu"):
        eval_set = eval_data.load(benchmark, "on-device")
        texts |= {f"outcomes/{k}": t for k, t in zip(eval_set.keys, eval_set.prompts)}
    return {k: texts[k] for k in keys}


def router_scores(keys: list[str]) -> np.ndarray:
    """The shipped router's score of every key's routing text (embeddings cached on disk)."""
    router_path = shipped_router()
    embedder = Embedder(name=trained_on(router_path))
    texts = texts_by_key(keys)
    vectors = EmbeddingCache(embedder).embed([texts[k] for k in keys])
    return RouterModel(router_path, embedder_id=embedder.id, dim=embedder.dim).score(vectors)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def combination(keys: list[str], probe_scores: np.ndarray, train_info: dict, outcome_info: dict) -> dict:
    """Fit the router + probe policy on the calibration rows, write ``policy.json``, and return its AUROCs."""
    routed = router_scores(keys)
    features = np.stack([logit(routed), logit(probe_scores)], axis=1)
    calibration = [i for i, k in enumerate(keys) if k in train_info and train_info[k][0] == "calibration"]
    fit = fit_logistic(features[calibration], [train_info[keys[i]][1] for i in calibration], l2=0.01)
    weights = fit.weights / fit.scale
    bias = fit.bias - float(fit.mean @ weights)
    combined = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
    policy = {"local_model": LOCAL, "router": "default.onnx", "probe": "prefill_state.json",
              "router_weight": float(weights[0]), "probe_weight": float(weights[1]), "bias": bias,
              "thresholds": share_thresholds(combined[calibration]), "target": "local answer wrong",
              "fitted_on": f"{len(calibration)} calibration rows (label rows and GSM8K training answers)"}
    POLICY.write_text(json.dumps(policy, indent=1) + "\n", encoding="utf-8")
    report = {}
    for name, scores in (("router", routed), ("probe", probe_scores), ("combined", combined)):
        test = [i for i, k in enumerate(keys) if k in train_info and train_info[k][0] == "test"]
        report[name] = {"auroc_test": auroc(scores[test], [train_info[keys[i]][1] for i in test])}
        for dataset in ("gsm8k", "mmlu"):
            chosen = [i for i, k in enumerate(keys) if k.startswith(f"outcomes/{dataset}/") and k in outcome_info]
            report[name][f"auroc_{dataset}_local_wrong"] = auroc(scores[chosen],
                                                                  [outcome_info[keys[i]][0] for i in chosen])
            report[name][f"auroc_{dataset}_strong_better"] = auroc(scores[chosen],
                                                                    [outcome_info[keys[i]][1] for i in chosen])
    return {"policy": policy, "aurocs": report}


def main() -> int:
    store = feature_store()
    train_info, outcome_info = training_rows(), outcome_rows()
    trials, started = [], time.perf_counter()
    for pooling in POOLINGS:
        keys, states = store.load(pooling=pooling)
        index = {k: i for i, k in enumerate(keys)}
        parts = {split: [k for k in keys if k in train_info and train_info[k][0] == split]
                 for split in ("train", "calibration", "test")}
        evaluation = [k for k in keys if k in outcome_info]
        print(f"{pooling}: " + ", ".join(f"{s} {len(p)}" for s, p in parts.items()) + f", outcomes {len(evaluation)}",
              file=sys.stderr, flush=True)
        y = {s: np.array([train_info[k][1] for k in p]) for s, p in parts.items()}
        for layer in range(states.shape[1]):
            x = {s: states[[index[k] for k in p], layer] for s, p in parts.items()}
            best = None
            for l2 in L2:
                fit = fit_logistic(x["train"], y["train"], l2=l2)
                cal = auroc(fit.score(x["calibration"]), y["calibration"])
                if best is None or cal > best[1]:
                    best = (l2, cal, fit)
            l2, cal, fit = best
            trial = {"pooling": pooling, "layer": layer, "l2": l2, "auroc_calibration": cal,
                     "auroc_test": auroc(fit.score(x["test"]), y["test"])}
            for source in ("labels", "gsm8k-train"):
                chosen = [i for i, k in enumerate(parts["test"]) if k.startswith(source)]
                if chosen and 0 < y["test"][chosen].mean() < 1:
                    trial[f"auroc_test_{source}"] = auroc(fit.score(x["test"][chosen]), y["test"][chosen])
            for dataset in ("gsm8k", "mmlu"):
                chosen = [k for k in evaluation if k.startswith(f"outcomes/{dataset}/")]
                if chosen:
                    scores = fit.score(states[[index[k] for k in chosen], layer])
                    trial[f"auroc_{dataset}_local_wrong"] = auroc(scores, [outcome_info[k][0] for k in chosen])
                    trial[f"auroc_{dataset}_strong_better"] = auroc(scores, [outcome_info[k][1] for k in chosen])
            trials.append({**trial, "_fit": fit})
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in trial.items()}),
                  file=sys.stderr, flush=True)
    chosen = max(trials, key=lambda t: t["auroc_calibration"])
    fit = chosen["_fit"]
    keys, states = store.load(pooling=chosen["pooling"], layers=[chosen["layer"]])
    calibration = [i for i, k in enumerate(keys) if k in train_info and train_info[k][0] == "calibration"]
    probe = StateProbe(local_model=LOCAL, layer=chosen["layer"], pooling=chosen["pooling"], mean=fit.mean,
                       scale=fit.scale, weights=fit.weights, bias=fit.bias,
                       thresholds=share_thresholds(fit.score(states[calibration, 0])))
    probe.save(PROBE, target="local answer wrong", l2=chosen["l2"], auroc_calibration=chosen["auroc_calibration"],
               auroc_test=chosen["auroc_test"])
    evaluated = {k: float(s) for k, s in zip(keys, probe.score_vectors(states[:, 0])) if k.startswith("outcomes/")}
    if len(evaluated) < len(outcome_info):
        print(f"only {len(evaluated)} of {len(outcome_info)} evaluation questions have prefill states: "
              "`edge-router eval` keeps the router alone until all do", file=sys.stderr)
    with gzip.open(SCORES, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps({"key": k.removeprefix("outcomes/"), "score": round(s, 6)}) + "\n"
                       for k, s in sorted(evaluated.items()))
    all_scores = probe.score_vectors(states[:, 0])
    combined = combination(keys, all_scores, train_info, outcome_info)
    card = {"environment": environment.describe(), "seconds": round(time.perf_counter() - started, 1),
            "combination": combined,
            "rows": {s: sum(v[0] == s for v in train_info.values()) for s in ("train", "calibration", "test")},
            "chosen": {k: v for k, v in chosen.items() if not k.startswith("_")},
            "trials": [{k: v for k, v in t.items() if not k.startswith("_")} for t in trials]}
    CARD.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(f"shipped layer {chosen['layer']} ({chosen['pooling']}), calibration AUROC "
          f"{chosen['auroc_calibration']:.3f}, test {chosen['auroc_test']:.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
