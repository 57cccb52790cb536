"""RouterBench's records for many models: each question's 0/1 score and USD cost for each of 11 models.

Rows missing any model's score or cost are left out (and counted), so every model is compared on the same
questions. The question is the last one of the few-shot prompt, as a user would ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .datasets import routerbench_file, routerbench_rows, scored_models

SETS = ("arc_challenge", "winograde", "mbpp")


@dataclass(frozen=True)
class ModelRecords:
    """Aligned records: ``quality`` and ``cost`` are (questions, models)."""

    models: tuple[str, ...]
    questions: tuple[str, ...]
    datasets: tuple[str, ...]
    quality: np.ndarray
    cost: np.ndarray
    dropped: int

    def __len__(self) -> int:
        return len(self.questions)

    def rows(self, mask: np.ndarray) -> ModelRecords:
        """These records for the questions ``mask`` selects."""
        return ModelRecords(self.models, tuple(np.array(self.questions)[mask]), tuple(np.array(self.datasets)[mask]),
                            self.quality[mask], self.cost[mask], self.dropped)

    def only(self, models: list[str]) -> ModelRecords:
        """These records for ``models`` alone, in that order."""
        index = [self.models.index(m) for m in models]
        return ModelRecords(tuple(models), self.questions, self.datasets, self.quality[:, index],
                            self.cost[:, index], self.dropped)


def records(split: str) -> ModelRecords:
    """The ``train`` or ``test`` rows of the three sets, every model's score and cost."""
    if split not in ("train", "test"):
        raise InvalidInputError(f"RouterBench splits are 'train' and 'test', not {split!r}.")
    models: tuple[str, ...] = ()
    questions, names, quality, cost, dropped = [], [], [], [], 0
    for name in SETS:
        for question, row in routerbench_rows(routerbench_file(f"{name}_{split}.csv.gz")):
            models = models or tuple(sorted(scored_models(row)))
            values = [(row.get(m, ""), row.get(f"{m}|total_cost", "")) for m in models]
            if any(score == "" or price == "" for score, price in values):
                dropped += 1
                continue
            questions.append(question)
            names.append(row["eval_name"])
            quality.append([float(score) for score, _ in values])
            cost.append([float(price) for _, price in values])
    return ModelRecords(models, tuple(questions), tuple(names), np.array(quality, np.float32),
                        np.array(cost, np.float64), dropped)
