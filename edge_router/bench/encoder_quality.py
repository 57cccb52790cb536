"""Routing quality per encoder: one router kind trained on the same labels with each, scored the same way.

The labels are the on-device pair's (``models/routers/qwen-pair.labels.jsonl.gz`` in a source checkout);
each encoder's router is trained on the train split, its AUROC read on the test split, and its APGR
measured on the GSM8K and MMLU questions both on-device models answered (``eval --pair on-device``).
"""

from __future__ import annotations

from pathlib import Path

from ..backends.embedder import Embedder
from ..data import datasets, eval_data
from ..evaluation.runner import RANDOM, run
from ..training.trainer import train

REPO_LABELS = Path(__file__).resolve().parents[2] / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
BENCHMARKS = ("gsm8k", "mmlu")


def default_labels() -> Path | None:
    """The on-device pair's label file of a source checkout, or None in an installed package."""
    return REPO_LABELS if REPO_LABELS.is_file() else None


def routing_quality(embedder: Embedder, labels: Path, kind: str, workdir: Path) -> tuple[Path, dict]:
    """Train ``kind`` on ``labels`` with ``embedder``; its router file and its quality figures.

    The APGRs need the shared data's GSM8K and MMLU questions; without them ``apgr`` is empty and
    ``apgr_mean`` None.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    card = train(labels, workdir, embedder=embedder, kinds=[kind])[kind]
    router_path = workdir / f"{kind}.onnx"
    quality = {
        "kind": kind,
        "labels": {"path": labels.name, "rows": card["training_data"]["rows"], "sizes": card["sizes"]},
        "auroc_strong_wins": card["metrics_test"]["auroc_strong_wins"],
        "auroc_local_wrong": card["metrics_test"]["auroc_local_wrong"],
        "apgr": {},
    }
    if not (datasets.data_dir() / eval_data.ROUTELLM).is_dir():
        quality["apgr_mean"] = None
        return router_path, quality
    for result in run(list(BENCHMARKS), pair="on-device", router_paths=[router_path], embedder=embedder):
        quality["apgr"][result["benchmark"]] = {
            "n": result["n"],
            "router": result["routers"][kind]["apgr"],
            "random_mean": result["routers"][RANDOM]["apgr"],
            "random_sd": result["routers"][RANDOM]["spread"]["apgr"],
        }
    quality["apgr_mean"] = sum(a["router"] for a in quality["apgr"].values()) / len(quality["apgr"])
    return router_path, quality
