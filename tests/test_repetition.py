"""Loop detection for generated answers, and the coding tasks it is measured on."""

from __future__ import annotations

import pytest

from edge_router.data import datasets
from edge_router.errors import InvalidInputError
from edge_router.evaluation.repetition import loops, repeated_share


def test_a_phrase_repeated_to_the_limit_is_a_loop():
    text = "The answer is simple. " + "We add the two numbers and get the result. " * 20
    assert repeated_share(text, tail=1 / 3) > 0.9
    assert loops(text, "length")
    assert not loops(text, "stop"), "an answer that ended by itself did not loop to the limit"


def test_long_answers_that_only_share_some_phrases_are_not_loops():
    steps = " ".join(f"Step {i}: {i} apples times {i + 3} baskets make {i * (i + 3)} apples." for i in range(30))
    assert not loops(steps, "length")
    code = "def remove(a, b):\n    return [x for x in a if x not in b]\n" + "".join(
        f"assert remove([{i}, {i + 1}, {i + 2}], [{i + 1}]) == [{i}, {i + 2}]\n" for i in range(12))
    assert not loops(code, "length")
    assert repeated_share("") == 0.0 and repeated_share("too short") == 0.0


@pytest.mark.skipif(not (datasets.data_dir() / "routerbench").is_dir(), reason="shared data folder is absent")
def test_coding_tasks_load_as_open_ended_prompts_without_gold():
    tasks = datasets.coding_tasks(limit=20)
    assert len(tasks) == 20 and {t.kind for t in tasks} == {"code"}
    assert all(t.question.startswith("Write") for t in tasks)
    assert [t.index for t in tasks] == [t.index for t in datasets.coding_tasks(limit=20)]
    with pytest.raises(InvalidInputError, match="no gold answer"):
        datasets.is_correct("def f(): pass", tasks[0])
