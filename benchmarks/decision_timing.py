"""What the local-model-aware decision costs on this machine: the prefill probe against a plain prefill and a
local answer, and what a kept prompt saves by taking the probe's KV cache. Run on a quiet machine; writes
``benchmarks/results/decision_timing.json`` (read by ``benchmarks/decision.py``).

For prompts of 32, 64 and 128 tokens (GSM8K training questions, cut), each measured ``--reps`` times in turn:
- ``plain_prefill``: the answering context's prefill alone (``chat`` with one token, cache cleared);
- ``probe``: the prefill-state read of a prompt the probe keeps (``LocalLLM.prefill_state``, the probe asked at
  its layer inside the prefill, as the decision does, and not stopping), the probe's score included;
- ``answer_after_probe``: the first token of the answer right after the probe handed its cache over;
- ``probe_early``: the read of a prompt the probe sends away: stopped at the probe's layer, scored;
- ``answer_64``: a 64-token greedy answer without the probe (what a kept prompt costs anyway);
- ``kept_extra``: per repetition, ``probe + answer_after_probe - plain_prefill`` (the device time a kept prompt's
  decision adds; paired in one repetition, so the machine's drift between repetitions cancels);
and ``reader_mb``: the resident memory the probe's own llama.cpp context adds (its KV cache and compute buffers;
the weights are shared), measured once, after an answer has touched the weights.

    python benchmarks/decision_timing.py [--reps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from edge_router import LocalLLM
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.data import datasets
from edge_router.files.shipped import shipped_state_probe
from edge_router.uncertainty.state_probe import StateProbe

RESULTS = Path(__file__).resolve().parent / "results"
LOCAL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
LENGTHS = (32, 64, 128)


def prompt_of_length(llm: LocalLLM, text: str, tokens: int) -> list[dict]:
    """A user message whose chat-formatted prompt has about ``tokens`` tokens."""
    words = text.split()
    for n in range(len(words), 0, -1):
        messages = [{"role": "user", "content": " ".join(words[:n])}]
        if len(llm.prompt_tokens(messages)) <= tokens:
            return messages
    raise ValueError("the text is too short")


def resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    llm = LocalLLM(LOCAL, threads=args.threads)
    probe_path = shipped_state_probe()
    probe = StateProbe.load(probe_path) if probe_path else None
    layer = probe.layer if probe is not None else 0
    text = " ".join(p.question for p in datasets.load("gsm8k-train", limit=40))
    results = {}
    llm.chat(prompt_of_length(llm, text, LENGTHS[0]), max_tokens=1)  # the answering context, the weights touched
    before = resident_mb()
    llm.prefill_state(prompt_of_length(llm, text, LENGTHS[0]), keep=False)  # the probe's context: created on first use
    reader_mb = resident_mb() - before
    for length in LENGTHS:
        messages = prompt_of_length(llm, text, length)
        cells: dict[str, list[float]] = {"plain_prefill": [], "probe": [], "answer_after_probe": [], "probe_early": [],
                                         "answer_64": [], "kept_extra": []}
        llm.prefill_state(messages, keep=False)  # warm-up
        for _ in range(args.reps):
            llm.clear_cache()
            cells["plain_prefill"].append(timed(lambda: llm.chat(messages, max_tokens=1)))
            llm.clear_cache()

            def read(stop: bool):
                def ask(state) -> bool:  # the decision scores the probe inside the prefill, at its layer
                    if probe is not None:
                        probe.score(state)
                    return stop
                llm.prefill_state(messages, up_to_layer=layer, stop_when=ask)
            cells["probe"].append(timed(lambda: read(False)))
            cells["answer_after_probe"].append(timed(lambda: llm.chat(messages, max_tokens=1)))
            llm.clear_cache()
            cells["probe_early"].append(timed(lambda: read(True)))
            llm.clear_cache()
            cells["answer_64"].append(timed(lambda: llm.chat(messages, max_tokens=64)))
            cells["kept_extra"].append(cells["probe"][-1] + cells["answer_after_probe"][-1]
                                       - cells["plain_prefill"][-1])
        results[str(length)] = {"prompt_tokens": len(llm.prompt_tokens(messages)),
                                **{k: statistics.median(v) for k, v in cells.items()}}
        print(length, results[str(length)], file=sys.stderr, flush=True)
    write_json({"environment": environment.describe(), "reps": args.reps, "model": llm.id,
                "probe": str(probe_path) if probe_path else None, "reader_mb": round(reader_mb, 1),
                "ms_median": results},
               RESULTS / "decision_timing.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
