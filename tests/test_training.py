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


class _Side:
    """A chat model that answers "4" (or fails for the prompts it is told to)."""

    def __init__(self, model_id: str, fail_on: str = ""):
        self.id, self.fail_on = model_id, fail_on

    def chat(self, messages, *, max_tokens, temperature=0.0):
        from edge_router.backends.completions import Completion

        self._check(messages)
        return Completion("4", "stop", self.id)

    def sample(self, messages, k, *, temperature, max_tokens):
        from edge_router.backends.completions import Sample

        self._check(messages)
        return [Sample("4", (-0.1,))] * k

    def _check(self, messages):
        from edge_router.errors import CloudTimeoutError

        if self.fail_on and self.fail_on in messages[-1]["content"]:
            raise CloudTimeoutError("the strong side took too long")


def test_a_failing_strong_answer_leaves_that_prompt_for_the_next_run(tmp_path):
    from edge_router.data.datasets import Prompt
    from edge_router.training.labels import LabelConfig, label_prompts, read_rows
    from edge_router.uncertainty.clustering import ExactMatchClusterer

    prompts = [Prompt("mine", i, f"What is {i} + 4 - {i}?", ("4",), "math") for i in range(3)]
    out = tmp_path / "labels.jsonl"
    first = label_prompts(prompts, out, weak=_Side("weak"), strong=_Side("strong", fail_on="What is 1 "),
                          clusterer=ExactMatchClusterer(), config=LabelConfig(k=3), progress=False)
    assert (first["labelled"], first["skipped"]) == (2, 1) and len(read_rows(out)) == 2
    again = label_prompts(prompts, out, weak=_Side("weak"), strong=_Side("strong"), clusterer=ExactMatchClusterer(),
                          config=LabelConfig(k=3), progress=False)
    rows = read_rows(out)
    assert (again["labelled"], again["already_done"]) == (1, 2) and len(rows) == 3
    assert all(r["label"] == "tie" and r["weak"]["correct"] and r["strong"]["correct"] for r in rows)


class _Answers(_Side):
    """A chat model that always says ``text``, sure of it (SE 0)."""

    def __init__(self, model_id: str, text: str):
        super().__init__(model_id)
        self.text = text

    def chat(self, messages, *, max_tokens, temperature=0.0):
        from edge_router.backends.completions import Completion

        return Completion(self.text, "stop", self.id)

    def sample(self, messages, k, *, temperature, max_tokens):
        from edge_router.backends.completions import Sample

        return [Sample(self.text, (-0.1,))] * k


@pytest.mark.parametrize("weak_says, strong_says, by, label, source", [
    ("4", "4", "gold", "weak", "gold"),           # the local answer is right: nothing to gain from the cloud
    ("4", "5", "gold", "weak", "gold"),
    ("5", "4", "gold", "strong", "gold"),
    ("5", "6", "gold", "tie", "se (both answers wrong)"),
    ("4", "4", "se", "tie", "se"),                # both sure: SE 0 and 0 tie, whoever is right
])
def test_gold_answers_decide_labels_when_asked(weak_says, strong_says, by, label, source):
    from edge_router.data.datasets import Prompt
    from edge_router.training.labels import LabelConfig, label_prompt
    from edge_router.uncertainty.clustering import ExactMatchClusterer

    row = label_prompt(Prompt("mine", 0, "What is 2 + 2?", ("4",), "math"), _Answers("weak", weak_says),
                       _Answers("strong", strong_says), ExactMatchClusterer(), LabelConfig(k=3, by=by))
    assert (row["label"], row["label_source"]) == (label, source)
    without_gold = label_prompt(Prompt("mine", 1, "Say hi", (), "qa"), _Answers("weak", "hi"), None,
                                ExactMatchClusterer(), LabelConfig(k=3, by=by))
    assert without_gold["label_source"] == "se"
    with pytest.raises(InvalidInputError, match="gold"):
        LabelConfig(by="votes")


def test_the_kind_that_ships_is_chosen_on_validation_and_must_clear_chance():
    from edge_router.training.trainer import chosen_kind, validation_lower_bound

    def card(validation, test, n=130):
        return {"metrics_validation": {"auroc_strong_wins": validation, "auroc_local_wrong": 0.5, "n": n,
                                       "share_strong_wins": 0.4},
                "metrics_test": {"auroc_strong_wins": test}}

    cards = {"knn": card(0.70, 0.50), "mlp": card(0.60, 0.90), "mf": card(float("nan"), 0.99)}
    assert chosen_kind(cards) == "knn"  # the test split never takes part
    assert validation_lower_bound(cards["knn"]) > 0.5
    assert validation_lower_bound(card(0.60, 0.5, n=40)) < 0.5  # 40 prompts: 0.60 is within chance
    assert validation_lower_bound(cards["mf"]) == -1.0


def test_labelling_order_is_the_hash_order_with_each_block_sorted_by_kind():
    from edge_router.data.datasets import Prompt
    from edge_router.training.labels import labelling_order, prompt_id

    kinds = ("qa", "math", "choice")
    prompts = [Prompt("mine", i, f"question {i}", ("x",), kinds[i % 3]) for i in range(40)]
    hashed = sorted(prompts, key=lambda p: prompt_id(p.question))
    assert labelling_order(prompts, 1) == hashed
    ordered = labelling_order(prompts, 16)
    for start in (0, 16, 32):
        block = ordered[start:start + 16]
        assert {p.index for p in block} == {p.index for p in hashed[start:start + 16]}  # the same prompts per block
        assert [p.kind for p in block] == sorted(p.kind for p in block)


def test_too_few_label_rows_are_named_split_by_split():
    from edge_router.training.trainer import MIN_ROWS, size_warnings

    assert size_warnings({s: n for s, n in MIN_ROWS.items()}) == []
    warnings = size_warnings({"train": 12, "calibration": 3, "test": 0})
    assert len(warnings) == 3 and "12 train rows" in warnings[0] and "chance" in warnings[0]
    assert "AUROC undefined" in warnings[2]


def test_several_strong_endpoints_are_sampled_and_read_as_quality_per_model(tmp_path):
    from edge_router.data.datasets import Prompt
    from edge_router.routing.model_choice import QualityPredictor
    from edge_router.training.labels import LabelConfig, label_prompts, model_quality, read_rows
    from edge_router.uncertainty.clustering import ExactMatchClusterer

    prompts = [Prompt("mine", 0, "What is 2 + 2?", ("4",), "math"), Prompt("mine", 1, "Say hi", (), "qa")]
    out = tmp_path / "labels.jsonl"
    label_prompts(prompts, out, weak=_Answers("weak", "5"), strong=_Answers("strong", "4"), progress=False,
                  clusterer=ExactMatchClusterer(), config=LabelConfig(k=3), others=[_Answers("third", "4")])
    rows = read_rows(out)
    assert all(r["others"][0]["model"] == "third" for r in rows)
    texts, models, quality = model_quality(rows)
    assert models == ("weak", "strong", "third") and quality.shape == (2, 3)
    by_prompt = dict(zip(texts, quality.tolist()))
    assert by_prompt["What is 2 + 2?"] == [0.0, 1.0, 1.0], "gold answers decide where there are some"
    assert by_prompt["Say hi"] == [1.0, 1.0, 1.0], "else how sure the samples were (one meaning: 1)"
    QualityPredictor(k=1).fit(np.eye(2, dtype=np.float32), quality, models)  # what a many-model router learns from


def test_the_prefill_probe_build_ships_the_earliest_layer_near_the_best():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models" / "probes"))
    from build_state import LAYER_TOLERANCE, cheapest_near_best

    trials = [{"layer": 3, "pooling": "last", "auroc_calibration": 0.70},
              {"layer": 5, "pooling": "last", "auroc_calibration": 0.728},
              {"layer": 5, "pooling": "mean", "auroc_calibration": 0.729},
              {"layer": 14, "pooling": "last", "auroc_calibration": 0.735}]
    assert cheapest_near_best(trials) == trials[2], "layer 5 gives up less than the tolerance; its better pooling"
    trials[3]["auroc_calibration"] = 0.729 + LAYER_TOLERANCE + 0.001
    assert cheapest_near_best(trials) == trials[3], "a clearly better later layer is worth its cost"
