"""The outcome job (``benchmarks/local_models.py``: every local model's greedy answers to the benchmark
questions) on Ray: its groups (``local_outcomes.paired_tasks``) spread over actors, each holding its own copy of
every model (resolved on its node through the verified cache); rows come back to the driver, which appends them to
the same work files. A group is answered as the single-process job answers it (``answer_group``), so the rows are
the same; an actor that dies mid-group is replaced and the group given to the new one; a stopped driver leaves
files the next run resumes (rows already there are skipped)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

from ..data.datasets import Prompt
from ..data.local_outcomes import AppendFiles, answer_group, paired_tasks, read_outcomes
from .actor_pool import ActorPool, connect


class Answerer:
    """One actor's local models, by id; ``answer`` returns a group's rows."""

    def __init__(self, models: dict[str, str], threads: int, n_ctx: int):
        from ..backends.local_llm import LocalLLM

        # Without the repetition penalty, as the single-process job answers (benchmarks/local_models.py).
        self.models = {model_id: LocalLLM(model, threads=threads, repeat_penalty=1.0, n_ctx=n_ctx)
                       for model_id, model in models.items()}

    def ready(self) -> bool:
        return True

    def answer(self, model_id: str, kind: str, group: list[Prompt]) -> list[dict]:
        return answer_group(self.models[model_id], kind, group)


def answer_on_ray(prompts: Sequence[Prompt], models: dict[str, str], work: dict[str, Path], *, actors: int = 2,
                  threads: int = 1, n_ctx: int = 4096, chunk: int = 128, address: str = "local",
                  log: Callable[[str], None] | None = None) -> dict:
    """Every model in ``models`` (id → registry name or GGUF path on every node) answers every prompt, on
    ``actors`` Ray actors of ``threads`` threads; rows appended to ``work[id]``. Returns a summary."""
    import ray

    connect(address)
    tasks = paired_tasks(prompts, list(models), {m: read_outcomes(work[m]) for m in models}, chunk=chunk)
    actor_class = ray.remote(num_cpus=threads, max_restarts=0)(Answerer)
    pool = ActorPool(lambda: actor_class.remote(models, threads, n_ctx), min(actors, max(len(tasks), 1)))
    started, answered = time.perf_counter(), 0
    with AppendFiles(work) as outs:
        def deliver(index: int, rows: list[dict]) -> None:
            nonlocal answered
            answered += outs.write(tasks[index][0], rows)
            if log is not None:
                log(f"{answered} answers on Ray: {answered / max(time.perf_counter() - started, 1e-9) * 60:.1f} "
                    "a minute")

        pool.run(tasks, lambda actor, task: actor.answer.remote(*task), deliver)
    seconds = time.perf_counter() - started
    return {"answered": answered, "groups": len(tasks), "seconds": seconds, "actors": len(pool.actors),
            "threads_per_actor": threads, "actors_replaced": pool.replaced, "startup_seconds": pool.startup_seconds,
            "answers_per_minute": answered / seconds * 60 if answered and seconds > 0 else 0.0}
