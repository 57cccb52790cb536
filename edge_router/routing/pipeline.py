"""Runs the decision's stages in order and turns their verdicts into one ``Decision``."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Sequence

from ..defaults import Route
from .decision import LOCAL, Decision
from .stages import Query, Stage, StageRecord

_TIMING_KEYS = ("tokenize", "embed", "score", "gate")  # always present; others when their stage ran


class Pipeline:
    """``stages`` in order; ``mode`` names the decision's mode unless a verdict renames it."""

    def __init__(self, stages: Sequence[Stage], mode: str):
        for stage in stages:
            if not isinstance(stage, Stage):
                raise TypeError(f"{stage!r} is not a stage: it needs a `name` and a `decide(query, route)` method.")
        self.stages = tuple(stages)
        self.mode = mode

    def decide(self, query: Query, models: dict[str, str | None]) -> Decision:
        start = time.perf_counter()
        route: Route = LOCAL
        mode = self.mode
        timings = dict.fromkeys(_TIMING_KEYS, 0.0)
        fields: dict = {}
        reasons: list[str] = []
        records: list[StageRecord] = []
        final = False
        for stage in self.stages:
            if final and not getattr(stage, "always", False):
                continue
            t = time.perf_counter()
            verdict = stage.decide(query, route)
            if verdict is None:
                continue
            records.append(StageRecord(stage.name, verdict.route, verdict.score, (time.perf_counter() - t) * 1e3,
                                       verdict.reason))
            route = verdict.route or route
            mode = verdict.mode or mode
            final = final or verdict.final
            timings.update(verdict.timings)
            fields.update(verdict.fields)
            if verdict.reason:
                reasons.append(verdict.reason)
        timings["total"] = (time.perf_counter() - start) * 1e3
        return Decision(route=route, mode=mode, reason="; ".join(reasons), timings_ms=timings, models=models,
                        stages=tuple(asdict(r) for r in records), **fields)
