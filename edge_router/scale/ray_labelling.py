"""Labelling on Ray, when one machine is not enough.

Prompts are spread over actors, each holding its own local model (llama.cpp is not thread-safe: one model per
actor process, resolved on its node through the verified model cache, never shipped through Ray's object store) and
clients for the strong endpoints, whose calls all actors together keep under ``cloud_concurrency`` (a semaphore
actor). Rows come back to the driver, which appends them to the same JSONL file, in the single-process job's order,
as soon as every row before them is in: prompts already in the file are skipped, a stopped driver leaves a file the
next run resumes, and each prompt is seeded on its own (``LabelConfig.seed``), so any actor labels it as the
single-process job would. An actor that dies mid-prompt is replaced and its prompt retried: no row is lost, none
is written twice.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..data.datasets import Prompt
from ..progress import ProgressBar
from ..training.labels import PRIVATE, LabelConfig, label_or_why, pending
from .actor_pool import ActorPool, connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSpec:
    """What each actor builds: the local model (a registry name or a GGUF path on every node), its threads, the
    strong endpoints (``CloudLLM`` keyword arguments each), the clusterer's name (and embedder) and the config."""

    local_model: str | None
    threads: int = 1
    strong: tuple[dict, ...] = ()
    clusterer: str = "exact"
    embedder: str | None = None
    config: LabelConfig = field(default_factory=LabelConfig)


class Labeller:
    """One actor's models; ``label`` returns (prompt id, the row or None, why it is None)."""

    def __init__(self, spec: WorkerSpec, semaphore: Any = None):
        from ..backends.cloud_llm import CloudLLM
        from ..backends.embedder import Embedder
        from ..backends.local_llm import LocalLLM
        from ..uncertainty.entailment import clusterer_named

        self.weak = LocalLLM(spec.local_model, threads=spec.threads, repeat_penalty=1.0)
        clouds = [_Limited(CloudLLM(**kwargs), semaphore) for kwargs in spec.strong]
        self.strong, self.others = (clouds[0], clouds[1:]) if clouds else (None, [])
        needs_embedder = spec.clusterer == "embedding"
        self.clusterer = clusterer_named(spec.clusterer, Embedder(name=spec.embedder) if needs_embedder else None)
        self.config = spec.config

    def ready(self) -> bool:
        """Answered once the actor's models are loaded."""
        return True

    def label(self, prompt: Prompt) -> tuple[dict | None, str | None]:
        return label_or_why(prompt, self.weak, self.strong, self.clusterer, self.config, self.others)


class _Limited:
    """A strong endpoint whose calls wait for the shared semaphore (None: no limit)."""

    def __init__(self, cloud: Any, semaphore: Any):
        self.cloud, self.semaphore, self.id = cloud, semaphore, cloud.id

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.semaphore is None:
            return getattr(self.cloud, method)(*args, **kwargs)
        import ray

        ray.get(self.semaphore.acquire.remote())
        try:
            return getattr(self.cloud, method)(*args, **kwargs)
        finally:
            self.semaphore.release.remote()

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("chat", *args, **kwargs)

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("sample", *args, **kwargs)


class Semaphore:
    """At most ``n`` strong calls in flight across all actors (an async Ray actor)."""

    def __init__(self, n: int):
        self.n, self.used = n, 0

    async def acquire(self) -> None:
        import asyncio

        while self.used >= self.n:
            await asyncio.sleep(0.005)
        self.used += 1

    def release(self) -> None:
        self.used -= 1


def label_on_ray(prompts: Sequence[Prompt], out_path: str | Path, *, spec: WorkerSpec, actors: int = 2,
                 address: str = "local", cloud_concurrency: int | None = None, block: int = 64,
                 progress: bool = True) -> dict:
    """Label ``prompts`` into ``out_path`` on ``actors`` Ray actors; returns a summary like ``label_prompts``'."""
    import ray

    connect(address)
    todo, done = pending(prompts, out_path, block)
    semaphore = ray.remote(Semaphore).remote(cloud_concurrency) if cloud_concurrency else None
    actor_class = ray.remote(num_cpus=spec.threads, max_restarts=0)(Labeller)
    pool = ActorPool(lambda: actor_class.remote(spec, semaphore), min(actors, max(len(todo), 1)))
    results: dict[int, tuple] = {}
    counts = {"written": 0, "skipped": 0, "private": 0, "next": 0}
    bar = ProgressBar(len(todo), label="labelling on Ray", unit="prompts", min_interval=1.0) if progress else None
    started = time.perf_counter()
    with open(out_path, "a", encoding="utf-8") as out:
        def deliver(index: int, result: tuple) -> None:  # rows go out in the single-process job's order
            results[index] = result
            while counts["next"] in results:
                row, why = results.pop(counts["next"])
                counts["next"] += 1
                if row is not None:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
                    counts["written"] += 1
                else:
                    counts["private" if why == PRIVATE else "skipped"] += 1
                if bar is not None:
                    bar.update(1)

        pool.run(todo, lambda actor, prompt: actor.label.remote(prompt), deliver)
    if bar is not None:
        bar.close()
    elapsed, written = time.perf_counter() - started, counts["written"]
    return {"labelled": written, "skipped": counts["skipped"], "private": counts["private"],
            "already_done": len(done),
            "seconds": elapsed,  # labelling only: startup_seconds (Ray's workers, the models) apart
            "prompts_per_minute": written / elapsed * 60 if written and elapsed > 0 else 0.0,
            "strong_sampled": bool(spec.strong), "config": asdict(spec.config), "actors": len(pool.actors),
            "threads_per_actor": spec.threads, "actors_replaced": pool.replaced,
            "startup_seconds": pool.startup_seconds}
