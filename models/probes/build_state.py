"""Train the prefill-state probes (from the local model's own state) and ship the policy that routes best.

    python models/probes/build_state.py

Inputs: the prefill states stored by ``benchmarks/decision_data.py`` (in the cache), "local answer wrong" of
the Qwen pair's label rows (``models/routers/qwen-pair.labels.jsonl.gz``: short answers; each row twice, asked as
labelling asked it and as a plain chat with no system prompt, as apps ask, with the same outcome) and of the GSM8K
training answers (``models/probes/gsm8k-train/``: step by step, the benchmark's format). Both have hash splits
(70 % train, 15 % calibration, 15 % test). For every layer and pooling (last token, mean) and each L2 strength
a logistic probe is fit on the train split; the probe of the earliest layer within ``LAYER_TOLERANCE`` of the best
calibration AUROC ships as ``prefill_state.json`` with the thresholds of its calibration scores (an earlier layer
costs less: the prefill of a prompt the probe sends away stops there). The test split only reports, and the
evaluation outcomes (GSM8K and MMLU test) are never trained on: their scores are written for ``edge-router eval``
(``prefill_state.scores.jsonl.gz``), and per-layer AUROCs on them go to ``prefill_state.card.json``.

Two targets: "the local answer is wrong" (label rows and GSM8K training answers) and "only the strong answer is
right" (label rows, and the GSM8K training answers whose strong side was answered too). For each, a probe per
layer and pooling as above. Then the policy: a logistic combination of logit(router score) and logit(probe score),
fitted on the calibration rows with a strong side, target "only the strong answer is right" (what routing gains
from). It ships (``models/routers/policy.json``, with the probe and its scores) only when it ranks that target
better than the router alone on the calibration split; otherwise the files are removed and the router decides
alone. The policy file keeps its calibration rows and the probe's cost measured by
``benchmarks/decision_timing.py``, from which the decision chooses when the probe is worth running. The test
split and the evaluation outcomes only report.
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
TARGETS = ("strong better", "local wrong")  # at equal validation, the probe of the policy's own target wins
CARD = HERE / "prefill_state.card.json"
SCORES = HERE / "prefill_state.scores.jsonl.gz"
L2 = (10.0, 100.0, 1000.0)
POOLINGS = ("last", "mean")
SOURCES = ("labels", "labels-plain", "gsm8k-train")  # the training rows' kinds, reported apart on the test split
LAYER_TOLERANCE = 0.01  # calibration AUROC an earlier (cheaper) layer may give up
IN_DOMAIN_LAYERS = (4, 10, 16, 22)  # the layers the GSM8K-only cross-fit reports


def training_rows() -> dict[str, dict[str, tuple[str, bool]]]:
    """Per target, feature key → (split, outcome): "local wrong" for label rows and GSM8K training answers,
    "strong better" (strong right, local wrong) for label rows and training answers with both sides scored."""
    rows: dict[str, dict[str, tuple[str, bool]]] = {target: {} for target in TARGETS}
    for r in read_rows(LABELS):
        weak, strong = r["weak"].get("correct"), r["strong"].get("correct")
        for source in ("labels", "labels-plain"):  # as labelling asked it, and as a plain chat
            if weak is not None:
                rows["local wrong"][f"{source}/{r['id']}"] = (r["split"], weak is False)
                if strong is not None:
                    rows["strong better"][f"{source}/{r['id']}"] = (r["split"], bool(strong) and not weak)
    answered, strong = (_training_answers(model) for model in (LOCAL, STRONG))
    if answered:
        questions = {p.index: p.question for p in datasets.load("gsm8k-train")}
        for key, r in answered.items():
            split = split_of(questions[r["index"]])
            rows["local wrong"][f"gsm8k-train/{r['index']}"] = (split, not r["correct"])
            if key in strong:
                rows["strong better"][f"gsm8k-train/{r['index']}"] = (split, bool(strong[key]["correct"])
                                                                      and not r["correct"])
    return rows


def _training_answers(model: str) -> dict[str, dict]:
    """The GSM8K training answers of ``model``: the long job's file where it is here, else the committed
    snapshot, else none."""
    for path in (work_path(model), HERE / "gsm8k-train" / f"{model}.jsonl.gz"):
        if path.is_file():
            return read_outcomes(path)
    return {}


def outcome_rows() -> dict[str, tuple[bool, bool]]:
    """Feature key → (local wrong, strong better) for the evaluation outcomes (never trained on)."""
    weak = read_outcomes(OUTCOMES / f"{LOCAL}.jsonl.gz")
    strong = read_outcomes(OUTCOMES / f"{STRONG}.jsonl.gz")
    return {f"outcomes/{k}": (not w["correct"], bool(strong[k]["correct"]) and not w["correct"])
            for k, w in weak.items() if k in strong}


def texts_by_key(keys: list[str]) -> dict[str, str]:
    """The routing text (the question, as the router reads it) of every key."""
    texts = {f"{source}/{r['id']}": r["prompt"] for r in read_rows(LABELS) for source in ("labels", "labels-plain")}
    if any(k.startswith("gsm8k-train/") for k in keys):
        texts |= {f"gsm8k-train/{p.index}": p.question for p in datasets.load("gsm8k-train")}
    for benchmark in ("gsm8k", "mmlu"):  # as the evaluation reads them; questions it drops, as the data has them
        texts |= {f"outcomes/{p.dataset}/{p.index}": p.question for p in datasets.load(benchmark)}
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


def aurocs(scores: np.ndarray, keys: list[str], info: dict, outcome_info: dict) -> dict[str, float]:
    """AUROC of ``scores`` (aligned with ``keys``) on each split of ``info`` and on the evaluation outcomes."""
    out = {}
    for split in ("calibration", "test"):
        chosen = [i for i, k in enumerate(keys) if k in info and info[k][0] == split]
        out[f"auroc_{split}"] = auroc(scores[chosen], [info[keys[i]][1] for i in chosen])
    for dataset in ("gsm8k", "mmlu"):
        chosen = [i for i, k in enumerate(keys) if k.startswith(f"outcomes/{dataset}/") and k in outcome_info]
        for j, name in enumerate(("local_wrong", "strong_better")):
            out[f"auroc_{dataset}_{name}"] = auroc(scores[chosen], [outcome_info[keys[i]][j] for i in chosen])
    return out


def cheapest_near_best(trials: list[dict]) -> dict:
    """The trial of the earliest layer within ``LAYER_TOLERANCE`` calibration AUROC of the best (then the best
    of that layer's poolings)."""
    best = max(t["auroc_calibration"] for t in trials)
    near = [t for t in trials if t["auroc_calibration"] >= best - LAYER_TOLERANCE]
    return min(near, key=lambda t: (t["layer"], -t["auroc_calibration"]))


def layer_trials(store, info: dict, outcome_info: dict) -> list[dict]:
    """One probe per layer and pooling (its L2 chosen on the calibration split), with its AUROCs."""
    trials = []
    for pooling in POOLINGS:
        keys, states = store.load(pooling=pooling)
        index = {k: i for i, k in enumerate(keys)}
        parts = {split: [k for k in keys if k in info and info[k][0] == split]
                 for split in ("train", "calibration", "test")}
        y = {s: np.array([info[k][1] for k in p]) for s, p in parts.items()}
        for layer in range(states.shape[1]):
            x = {s: states[[index[k] for k in p], layer] for s, p in parts.items()}
            fits = [(fit_logistic(x["train"], y["train"], l2=l2), l2) for l2 in L2]
            fit, l2 = max(fits, key=lambda f: auroc(f[0].score(x["calibration"]), y["calibration"]))
            trial = {"pooling": pooling, "layer": layer, "l2": l2,
                     **aurocs(fit.score(states[:, layer]), keys, info, outcome_info)}
            for source in SOURCES:
                chosen = [i for i, k in enumerate(parts["test"]) if k.split("/")[0] == source]
                if chosen and 0 < y["test"][chosen].mean() < 1:
                    trial[f"auroc_test_{source}"] = auroc(fit.score(x["test"][chosen]), y["test"][chosen])
            trials.append({**trial, "_fit": fit})
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in trial.items()
                              if not k.startswith("_")}), file=sys.stderr, flush=True)
    return trials


def gsm8k_in_domain(store, rows: dict, folds: int = 5) -> dict:
    """What the local model's state says of GSM8K on its own training answers, cross-fitted on them alone (per
    layer, last token): AUROC for "local wrong", for "strong better" (rows with a strong side), and how the
    "local wrong" score ranks "strong better" (a question the small model fails is often one the strong one fails
    too). The evaluation outcomes are not read."""
    wrong = {k: v[1] for k, v in rows["local wrong"].items() if k.startswith("gsm8k-train/")}
    better = {k: v[1] for k, v in rows["strong better"].items() if k.startswith("gsm8k-train/")}
    keys, states = store.load(pooling="last", layers=list(IN_DOMAIN_LAYERS))
    index = {k: i for i, k in enumerate(keys)}
    out = {"rows": {"local wrong": len(wrong), "strong better": len(better)},
           "strong_better_share": float(np.mean(list(better.values()))) if better else None, "layers": {}}
    for j, layer in enumerate(IN_DOMAIN_LAYERS):
        scores = {}
        for target, labels in (("local wrong", wrong), ("strong better", better)):
            if len(set(labels.values())) < 2:
                continue
            ks = sorted(labels)
            x, y = states[[index[k] for k in ks], j], np.array([labels[k] for k in ks])
            fold = np.random.default_rng(0).integers(0, folds, len(ks))
            s = np.zeros(len(ks))
            for f in range(folds):
                s[fold == f] = fit_logistic(x[fold != f], y[fold != f], l2=1000.0).score(x[fold == f])
            scores[target] = dict(zip(ks, s))
            out["layers"].setdefault(str(layer), {})[target] = auroc(s, y)
        if len(scores) == 2:
            ks = sorted(better)
            out["layers"][str(layer)]["local wrong ranks strong better"] = auroc(
                np.array([scores["local wrong"][k] for k in ks]), [better[k] for k in ks])
    return out


def probe_of(trial: dict, store, info: dict) -> tuple[StateProbe, list[str], np.ndarray]:
    """The chosen trial as a ``StateProbe`` (thresholds from its calibration scores), and its score of every key."""
    fit = trial["_fit"]
    keys, states = store.load(pooling=trial["pooling"], layers=[trial["layer"]])
    scores = fit.score(states[:, 0])
    calibration = [i for i, k in enumerate(keys) if k in info and info[k][0] == "calibration"]
    probe = StateProbe(local_model=LOCAL, layer=trial["layer"], pooling=trial["pooling"], mean=fit.mean,
                       scale=fit.scale, weights=fit.weights, bias=fit.bias,
                       thresholds=share_thresholds(scores[calibration]))
    return probe, keys, scores


def probe_cost() -> dict[str, float]:
    """The probe's measured cost (``decision_timing.json``): ms per prompt token of a prefill it stops, and its
    extra ms on a prefill it lets finish (medians over the measured prompt lengths); empty when not measured."""
    timing = ROOT / "benchmarks" / "results" / "decision_timing.json"
    if not timing.is_file():
        return {}
    rows = json.loads(timing.read_text(encoding="utf-8"))["ms_median"].values()
    return {"offloaded_per_token": round(float(np.median([r["probe_early"] / r["prompt_tokens"] for r in rows])), 3),
            "kept": round(float(np.median([max(r["kept_extra"], 0.0) for r in rows])), 1)}


def policy_for(keys: list[str], routed: np.ndarray, probe_scores: np.ndarray, info: dict,
               tokens: dict[str, int]) -> dict:
    """The router + probe combination fitted on the calibration rows of ``info`` ("strong better"), with those
    rows (router score, probe score, outcome, prompt tokens)."""
    features = np.stack([logit(routed), logit(probe_scores)], axis=1)
    calibration = [i for i, k in enumerate(keys) if k in info and info[k][0] == "calibration"]
    fit = fit_logistic(features[calibration], [info[keys[i]][1] for i in calibration], l2=0.01)
    weights = fit.weights / fit.scale
    bias = fit.bias - float(fit.mean @ weights)
    combined = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
    return {"local_model": LOCAL, "router": "default.onnx", "probe": PROBE.name,
            "router_weight": float(weights[0]), "probe_weight": float(weights[1]), "bias": bias,
            "thresholds": share_thresholds(combined[calibration]), "target": "only the strong answer is right",
            "fitted_on": f"{len(calibration)} calibration rows (label rows and GSM8K training answers)",
            "probe_ms": probe_cost(),
            "calibration_rows": [[round(float(routed[i]), 6), round(float(probe_scores[i]), 6),
                                  bool(info[keys[i]][1]), tokens[keys[i]]] for i in calibration],
            "_scores": combined}


def main() -> int:
    started = time.perf_counter()
    store, rows, outcome_info = feature_store(), training_rows(), outcome_rows()
    tokens = store.token_counts()
    stored = store.keys()
    rows = {target: {k: v for k, v in info.items() if k in stored} for target, info in rows.items()}
    better = rows["strong better"]
    trials = {target: layer_trials(store, rows[target], outcome_info) for target in TARGETS}
    candidates, routed, keys = {}, None, None
    for target in TARGETS:
        chosen = cheapest_near_best(trials[target])
        probe, keys, scores = probe_of(chosen, store, rows[target])
        routed = router_scores(keys) if routed is None else routed
        policy = policy_for(keys, routed, scores, better, tokens)
        candidates[target] = {"trial": chosen, "probe": probe, "scores": scores, "policy": policy,
                              "aurocs": aurocs(policy["_scores"], keys, better, outcome_info)}
    router_alone = aurocs(routed, keys, better, outcome_info)
    best = max(candidates, key=lambda t: candidates[t]["aurocs"]["auroc_calibration"])
    ships = candidates[best]["aurocs"]["auroc_calibration"] > router_alone["auroc_calibration"]
    winner = candidates[best]
    if ships:
        winner["probe"].save(PROBE, target=best, l2=winner["trial"]["l2"])
        POLICY.write_text(json.dumps({k: v for k, v in winner["policy"].items() if not k.startswith("_")},
                                     indent=1) + "\n", encoding="utf-8")
        evaluated = {k: float(s) for k, s in zip(keys, winner["scores"]) if k.startswith("outcomes/")}
        with gzip.open(SCORES, "wt", encoding="utf-8") as out:
            out.writelines(json.dumps({"key": k.removeprefix("outcomes/"), "score": round(s, 6),
                                       "tokens": tokens[k]}) + "\n"
                           for k, s in sorted(evaluated.items()))
    else:
        for path in (PROBE, POLICY, SCORES):
            path.unlink(missing_ok=True)
    card = {"environment": environment.describe(), "seconds": round(time.perf_counter() - started, 1),
            "rows": {t: {s: sum(v[0] == s for v in rows[t].values()) for s in ("train", "calibration", "test")}
                     for t in TARGETS},
            "router_alone": router_alone, "ships": best if ships else None,
            "gsm8k_in_domain": gsm8k_in_domain(store, rows),
            "candidates": {t: {"layer": c["trial"]["layer"], "pooling": c["trial"]["pooling"],
                               "probe": {k: v for k, v in c["trial"].items() if not k.startswith("_")},
                               "policy": {k: v for k, v in c["policy"].items() if not k.startswith("_")},
                               "policy_aurocs_strong_better": c["aurocs"]} for t, c in candidates.items()},
            "trials": {t: [{k: v for k, v in x.items() if not k.startswith("_")} for x in trials[t]]
                       for t in TARGETS}}
    CARD.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    verdict = (f"ships the router + {best} probe (layer {winner['trial']['layer']}, {winner['trial']['pooling']})"
               if ships else "ships nothing: the router alone ranks \"strong better\" at least as well")
    print(f"{verdict}; calibration AUROC strong better: router {router_alone['auroc_calibration']:.3f}, "
          + ", ".join(f"+{t} probe {c['aurocs']['auroc_calibration']:.3f}" for t, c in candidates.items()),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
