"""Labelling on a real local Ray: the same rows as the single-process job, and none lost or doubled when an actor
is killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TINY_LLM

from edge_router.data.datasets import Prompt
from edge_router.training.labels import LabelConfig, label_prompts, read_rows

ray = pytest.importorskip("ray", reason="the scale extra (Ray) is not installed")
pytestmark = pytest.mark.real_models

QUESTIONS = [("What is 2 + 3?", ("5",)), ("What is the capital of France?", ("Paris",)),
             ("What colour is grass?", ("green",)), ("How many days are in a week?", ("7",)),
             ("What is 8 + 8?", ("16",)), ("Who wrote Hamlet?", ("Shakespeare",)), ("What is 10 - 4?", ("6",)),
             ("What is frozen water called?", ("ice",)), ("How many legs does a cat have?", ("4",)),
             ("What is the largest planet?", ("Jupiter",)), ("What is 7 - 2?", ("5",)),
             ("What is the opposite of hot?", ("cold",))]
PROMPTS = [Prompt("mine", i, q, a, "qa") for i, (q, a) in enumerate(QUESTIONS)]
CONFIG = LabelConfig(k=3, max_tokens=8, seed=0)
TIMINGS = ("greedy_ms", "sample_ms", "cluster_ms")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    from edge_router.scale.ray_labelling import connect

    connect("local")
    yield
    ray.shutdown()


def _without_timings(rows: list[dict]) -> list[dict]:
    return [{**r, **{side: {k: v for k, v in r[side].items() if k not in TIMINGS} for side in ("weak", "strong")}}
            for r in rows]


def test_ray_rows_equal_the_single_process_rows(tmp_path, local_llm):
    from edge_router.backends.local_llm import LocalLLM
    from edge_router.scale.ray_labelling import WorkerSpec, label_on_ray
    from edge_router.uncertainty.clustering import ExactMatchClusterer

    single = tmp_path / "single.jsonl"
    label_prompts(PROMPTS[:6], single, weak=LocalLLM(TINY_LLM, threads=1, repeat_penalty=1.0), strong=None,
                  clusterer=ExactMatchClusterer(), config=CONFIG, progress=False)
    on_ray = tmp_path / "ray.jsonl"
    summary = label_on_ray(PROMPTS[:6], on_ray, spec=WorkerSpec(TINY_LLM, config=CONFIG), actors=2, progress=False)
    assert summary["labelled"] == 6 and summary["actors"] == 2
    assert _without_timings(read_rows(on_ray)) == _without_timings(read_rows(single))
    again = label_on_ray(PROMPTS[:6], on_ray, spec=WorkerSpec(TINY_LLM, config=CONFIG), actors=2, progress=False)
    assert (again["labelled"], again["already_done"]) == (0, 6), "a second run resumes, not redoes"


def _labeller_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"ray::Labeller" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_an_actor_killed_mid_run_loses_and_doubles_nothing(tmp_path):
    from edge_router.scale.ray_labelling import WorkerSpec, label_on_ray

    out = tmp_path / "ray.jsonl"
    killed = []

    def kill_one_after_the_first_row():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            if out.exists() and out.read_text().strip() and _labeller_pids():
                pid = _labeller_pids()[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_after_the_first_row)
    killer.start()
    summary = label_on_ray(PROMPTS, out, spec=WorkerSpec(TINY_LLM, config=CONFIG), actors=2, progress=False)
    killer.join()
    rows = read_rows(out)
    assert killed and summary["actors_replaced"] >= 1
    assert sorted(r["prompt"] for r in rows) == sorted(q for q, _ in QUESTIONS), "every prompt once, none twice"


def test_the_label_command_runs_on_ray(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": q, "answers": list(a)}) + "\n" for q, a in QUESTIONS[:3]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
    done = subprocess.run([sys.executable, "-m", "edge_router", "label", "--prompts", str(prompts), "--out",
                           str(tmp_path / "l.jsonl"), "--local-model", TINY_LLM, "--k", "2", "--max-tokens", "4",
                           "--ray", "--actors", "2", "--threads", "1", "--json"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["labelled"] == 3 and summary["actors"] == 2 and len(read_rows(tmp_path / "l.jsonl")) == 3


CHOICES = [Prompt("mmlu", i, f"{q}\nA. {a}\nB. {b}\nC. {c}\nD. {d}", (gold,), "choice", "trivia")
           for i, (q, a, b, c, d, gold) in enumerate([
               ("What is 2 + 3?", "4", "5", "6", "7", "B"), ("Which is a colour?", "green", "seven", "cat", "up", "A"),
               ("How many days are in a week?", "5", "6", "7", "8", "C"),
               ("Which is frozen water?", "steam", "fire", "sand", "ice", "D"),
               ("Which planet is largest?", "Mars", "Jupiter", "Venus", "Mercury", "B"),
               ("What is 10 - 4?", "6", "5", "4", "3", "A")])]


def _without_time(rows: dict) -> dict:
    return {key: {k: v for k, v in row.items() if k != "ms"} for key, row in rows.items()}


def test_outcome_rows_on_ray_equal_the_single_process_rows(tmp_path):
    """The outcome job (benchmarks/local_models.py) answered plainly and on two actors: the same rows."""
    from edge_router.backends.local_llm import LocalLLM
    from edge_router.data.local_outcomes import answer_paired, read_outcomes
    from edge_router.scale.ray_outcomes import answer_on_ray

    single, on_ray = {TINY_LLM: tmp_path / "single.jsonl"}, {TINY_LLM: tmp_path / "ray.jsonl"}
    answer_paired(CHOICES, [LocalLLM(TINY_LLM, threads=1, repeat_penalty=1.0, n_ctx=4096)], single, chunk=2)
    summary = answer_on_ray(CHOICES[:2], {TINY_LLM: TINY_LLM}, on_ray, actors=2, chunk=2)
    assert summary["answered"] == 2
    summary = answer_on_ray(CHOICES, {TINY_LLM: TINY_LLM}, on_ray, actors=2, chunk=2)  # resumes: 4 left
    assert summary["answered"] == 4 and summary["actors"] == 2 and summary["groups"] == 2
    rows = read_outcomes(on_ray[TINY_LLM])
    assert len(rows) == len(CHOICES) == sum(1 for _ in open(on_ray[TINY_LLM], encoding="utf-8"))
    assert _without_time(rows) == _without_time(read_outcomes(single[TINY_LLM]))
