"""Relabelling against a reference SE, and the accuracy-label training target."""

from __future__ import annotations

import numpy as np
import pytest

from edge_router.errors import InvalidInputError
from edge_router.training.labels import relabel
from edge_router.training.trainer import load_split


def _row(prompt: str, se: float, correct: bool | None, split: str = "train") -> dict:
    return {"prompt": prompt, "split": split, "label": "strong",
            "weak": {"se": se, "se_likelihood": se / 2, "correct": correct}, "strong": {"se": 0.0}}


def test_relabel_compares_the_weak_entropy_with_a_fixed_reference():
    rows = [_row("a", 2.0, False), _row("b", 1.0, True), _row("c", 1.02, True)]
    out = relabel(rows, strong_se=1.0, tau=0.1)
    assert [r["label"] for r in out] == ["strong", "tie", "tie"]
    assert out[0]["delta"] == pytest.approx(0.5) and out[0]["strong"]["se"] == 1.0
    by_likelihood = relabel(rows, strong_se=0.75, tau=0.1, entropy="se_likelihood")
    assert [r["label"] for r in by_likelihood] == ["strong", "weak", "weak"]
    assert rows[0]["label"] == "strong" and "delta" not in rows[0]  # inputs untouched
    with pytest.raises(InvalidInputError, match="entropy"):
        relabel(rows, strong_se=1.0, tau=0.1, entropy="entropy")


def test_local_wrong_target_learns_correctness_and_skips_rows_without_gold(embedder):
    rows = [_row("who wrote hamlet", 1.0, False), _row("what is 2+2", 0.5, True), _row("hello there", 0.1, None)]
    data = load_split(rows, embedder, target="local-wrong")
    np.testing.assert_array_equal(data["train"]["y"], [1.0, 0.0])
    assert load_split(rows, embedder)["train"]["y"].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(InvalidInputError, match="unknown target"):
        load_split(rows, embedder, target="accuracy")
