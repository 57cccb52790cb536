"""Readers for the textual-entailment pairs in ``../shared/data/nli`` (see its SOURCES.md).

Every reader yields :class:`NLIPair` with one of :data:`LABELS`. The split names below are the ones the
project trains on and the ones it holds out; ANLI and SICK are licensed for evaluation only.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ModelNotFoundError
from ..settings import DATA_ENV, data_dir

LABELS = ("entailment", "neutral", "contradiction")
_SHORT = {"e": "entailment", "n": "neutral", "c": "contradiction"}


@dataclass(frozen=True)
class NLIPair:
    premise: str
    hypothesis: str
    label: str
    source: str


def _label(raw: str) -> str | None:
    value = raw.strip().lower()
    value = _SHORT.get(value, value)
    return value if value in LABELS else None


def _delimited(path: Path, delimiter: str, premise: str, hypothesis: str, label: str, source: str) -> Iterator[NLIPair]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=delimiter):
            gold = _label(row.get(label) or "")
            if gold is not None:
                yield NLIPair(row[premise].strip(), row[hypothesis].strip(), gold, source)


def _anli(path: Path, source: str) -> Iterator[NLIPair]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            yield NLIPair(row["context"].strip(), row["hypothesis"].strip(), _SHORT[row["label"]], source)


def _csv(rel: str, label: str = "label") -> Callable[[Path], Iterator[NLIPair]]:
    return lambda root: _delimited(root / rel, ",", "sentence1", "sentence2", label, rel)


def _tsv(rel: str, premise: str = "sentence1", hypothesis: str = "sentence2", label: str = "gold_label"):
    return lambda root: _delimited(root / rel, "\t", premise, hypothesis, label, rel)


SPLITS: dict[str, Callable[[Path], Iterator[NLIPair]]] = {
    "snli-dev": _csv("snli/snli_1.0_dev.csv"),
    "snli-test": _csv("snli/snli_1.0_test.csv"),
    "mnli-dev-matched": _csv("mnli/multinli_1.0_dev_matched.csv"),
    "mnli-dev-mismatched": _csv("mnli/multinli_1.0_dev_mismatched.csv"),
    "snli-counterfactual-train": _tsv("snli_counterfactual/all_combined/train.tsv"),
    "new-protocols-train": lambda root: (
        pair for part in ("base", "edit_other", "edit_premise")
        for pair in _tsv(f"nli_new_protocols/{part}/train.tsv")(root)
    ),
    "new-protocols-val": lambda root: (
        pair for part in ("base", "edit_other", "edit_premise")
        for pair in _tsv(f"nli_new_protocols/{part}/val.tsv")(root)
    ),
    "anli-dev": lambda root: (
        pair for r in ("R1", "R2", "R3") for pair in _anli(root / f"anli/{r}/dev.jsonl", f"anli/{r}")
    ),
    "sick-test": _tsv("sick/SICK_test_annotated.txt", "sentence_A", "sentence_B", "entailment_judgment"),
}
TRAIN_SPLITS = ("snli-dev", "snli-test", "mnli-dev-matched", "snli-counterfactual-train", "new-protocols-train")
HELD_OUT_SPLITS = ("mnli-dev-mismatched", "new-protocols-val", "anli-dev", "sick-test")


def nli_root(root: str | Path | None = None) -> Path:
    return Path(root) if root is not None else data_dir() / "nli"


def load_split(name: str, root: str | Path | None = None) -> list[NLIPair]:
    """All labelled pairs of one split (rows without a gold label are dropped)."""
    if name not in SPLITS:
        raise ModelNotFoundError(f"Unknown NLI split {name!r}; choose one of {', '.join(SPLITS)}.")
    base = nli_root(root)
    if not base.is_dir():
        raise ModelNotFoundError(
            f"{base} does not exist. Set {DATA_ENV} to the shared data folder (the one with nli/ inside).")
    return list(SPLITS[name](base))
