"""AUROC against hand-computed cases, and the built-in dataset loader and scorer."""

from __future__ import annotations

import math

import pytest

from edge_router.data import datasets
from edge_router.data.datasets import Prompt, is_correct
from edge_router.errors import ModelNotFoundError
from edge_router.metrics import auroc


def test_auroc_hand_computed():
    assert auroc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    # pairs (pos, neg): (0.5, 0.1) win, (0.5, 0.5) tie, (0.3, 0.1) win, (0.3, 0.5) loss -> 2.5 / 4
    assert auroc([0.5, 0.3, 0.1, 0.5], [True, True, False, False]) == pytest.approx(0.625)
    assert math.isnan(auroc([0.1, 0.2], [True, True]))


def test_qa_correctness_matches_any_alias_as_whole_words():
    p = Prompt("nq-open", 0, "who wrote hamlet?", ("William Shakespeare", "Shakespeare"), "qa")
    assert is_correct("It was written by Shakespeare.", p)
    assert not is_correct("Christopher Marlowe wrote it.", p)
    assert not is_correct("Shakespeareana", p)


def test_math_correctness_uses_the_last_number():
    p = Prompt("mawps", 0, "7 + 36?", ("43",), "math")
    assert is_correct("She gave 70 - 27 = 43 seashells.", p)
    assert is_correct("43.0", p)
    assert not is_correct("The answer is 44.", p)
    assert not is_correct("no idea", p)


def test_unknown_dataset_and_missing_folder_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="built-in sets"):
        datasets.load("squad")
    monkeypatch.setenv("EDGE_ROUTER_DATA", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="EDGE_ROUTER_DATA"):
        datasets.load("nq-open")


SHARED = datasets.data_dir() / "qa"


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared data folder is absent")
@pytest.mark.parametrize("name, kind", [("nq-open", "qa"), ("triviaqa", "qa"), ("mawps", "math")])
def test_shared_datasets_load_deterministically(name, kind):
    first = datasets.load(name, limit=5, seed=3)
    assert first == datasets.load(name, limit=5, seed=3)
    assert len(first) == 5 and all(p.kind == kind and p.question and p.answers for p in first)
    assert first != datasets.load(name, limit=5, seed=4)


def test_choice_answers_pick_the_stated_option_not_an_article():
    p = Prompt("mmlu", 0, "q\nA. x\nB. y\nC. z\nD. w\nAnswer:", ("B",), "choice")
    for right in ("B", "B. y", "(B) y", "The answer is B.", "A bird flies; B) is right"):
        assert is_correct(right, p), right
    for wrong in ("A. x", "C", "no idea", "A bird"):
        assert not is_correct(wrong, p), wrong


@pytest.mark.skipif(not (datasets.data_dir() / "gsm8k").is_dir(), reason="shared data folder is absent")
def test_gsm8k_and_mmlu_sets_load_with_gold_answers():
    gsm8k = {p.index: p for p in datasets.load("gsm8k")}
    assert len(gsm8k) == 1319 and gsm8k[0].answers == ("18",) and gsm8k[0].kind == "math"
    mmlu = datasets.load("mmlu")
    assert len(mmlu) == 14042 and {p.answers[0] for p in mmlu} == set("ABCD")
    aux = datasets.load("mmlu-aux")
    assert 1700 < len(aux) < 1816 and all(p.question.endswith("Answer:") for p in aux)


@pytest.mark.skipif(not (datasets.data_dir() / "routerbench").is_dir(), reason="shared data folder is absent")
def test_training_sets_hold_no_evaluation_question_and_an_evaluation_prompt_is_left_out():
    from edge_router.defaults import TRAINING_SETS

    for name in TRAINING_SETS:
        prompts = datasets.load(name)
        kept, dropped = datasets.without_evaluation_prompts(prompts)
        assert len(kept) + dropped == len(prompts) and len(kept) > 800, name
        if name != "mmlu-aux":  # only MMLU dev/val share generic first lines with MMLU test
            assert dropped == 0, name
    gsm8k = datasets.load("gsm8k", limit=1)[0]
    planted = Prompt("mine", 0, gsm8k.question.upper(), ("1",), "math")
    assert datasets.without_evaluation_prompts([planted]) == ([], 1)
    arc = datasets.load("arc-challenge")
    assert {p.answers[0] for p in arc} == set("ABCD") and all(p.question.endswith("Answer:") for p in arc)


@pytest.mark.skipif(not (datasets.data_dir() / "routerbench").is_dir(), reason="shared data folder is absent")
def test_routerbench_prompts_are_zero_shot_questions():
    """RouterBench asks with solved examples first; a router embedding those would see the same text for all."""
    for name in ("arc-challenge", "winogrande"):
        prompts = datasets.load(name)
        assert all(p.question.count("Answer:") == 1 for p in prompts), name
        starts = {p.question[:80] for p in prompts}
        assert len(starts) > 0.8 * len(prompts), f"{name}: prompts share their opening"


def test_wilson_interval_matches_the_textbook_values():
    from edge_router.metrics import wilson

    low, high = wilson(8, 20)
    assert (round(low, 3), round(high, 3)) == (0.219, 0.613)
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 0)[0] != wilson(0, 0)[0]


@pytest.mark.skipif(not (datasets.data_dir() / "gsm8k").is_dir(), reason="shared data folder is absent")
def test_the_shipped_evaluation_stems_are_those_of_the_data():
    computed = {datasets.hash_stem(s) for s in datasets.evaluation_stems()}
    assert datasets.evaluation_stem_hashes() == computed, "rebuild with python models/eval/build_stems.py"


def test_prompts_are_checked_against_evaluation_questions_without_the_benchmark_data(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_ROUTER_DATA", str(tmp_path))  # no benchmark data here
    question = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
    gsm8k_test = ("Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
                  "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
                  "per fresh duck egg. How much in dollars does she make every day at the farmers' market?")
    prompts = [Prompt("mine", 0, question, (), "qa"), Prompt("mine", 1, gsm8k_test, (), "qa")]
    kept, dropped = datasets.without_evaluation_prompts(prompts)
    assert [p.index for p in kept] == [0] and dropped == 1
