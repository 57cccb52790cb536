"""Offline demo: answer ten varied prompts on the device, offloading the uncertain ones.

The "cloud" here is a stand-in unless you configure a real one: llama-cpp-python's
OpenAI-compatible server, started on 127.0.0.1 by this script and serving the same
small GGUF model. To use a real provider, set

    EDGE_ROUTER_CLOUD_BASE_URL=https://api.openai.com/v1
    EDGE_ROUTER_CLOUD_API_KEY=sk-...
    EDGE_ROUTER_CLOUD_MODEL=gpt-4o-mini

and run it again; the stand-in is then not started.

Until a trained router ships, the decision is the uncertainty gate: the local model
answers each prompt five times at temperature 1, the answers are clustered by
meaning (embedding similarity), and the prompt goes to the cloud when the semantic
entropy over those clusters is above the gate's threshold.
"""

from __future__ import annotations

import logging
import os
import signal
import statistics
import sys
import textwrap
import time

from edge_router import CloudLLM, EdgeRouter, Prices
from edge_router.settings import CLOUD_BASE_URL_ENV
from edge_router.standin import MODEL_ALIAS, StandinServer

PROMPTS = [
    "What is the capital of France?",
    "What is 12 + 7?",
    "Who wrote Romeo and Juliet?",
    "What is the chemical symbol for gold?",
    "How many legs does a spider have?",
    "A train travels at 60 km/h for 3 hours and then at 40 km/h for 2 hours. How far does it go in total?",
    "Alice is older than Bob, and Bob is older than Carol. Who is the youngest?",
    "In which year did the first person walk on the Moon, and who was it?",
    "Write a haiku about autumn rain.",
    "Write two sentences selling a solar-powered backpack.",
]

# Illustrative prices for the stand-in (per million tokens), so the summary can show a cost.
STANDIN_PRICES = Prices(input_per_million=0.15, output_per_million=0.60)
ANSWER_TOKENS = 160


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(cloud: CloudLLM, cloud_label: str) -> None:
    print("Loading the on-device model and embedder ...", flush=True)
    router = EdgeRouter.from_defaults(cloud=cloud, max_tokens=ANSWER_TOKENS)
    gate = router.gate
    print(
        f"Decision: uncertainty gate, k={gate.k} samples of up to {gate.max_tokens} tokens, "
        f"{gate.clusterer.name} clustering, offload when semantic entropy > {gate.threshold} nats.\n"
        f"Local model: {router.local.id}. Cloud: {cloud_label}.\n"
    )
    answers = []
    started = time.perf_counter()
    for i, prompt in enumerate(PROMPTS, 1):
        answer = router.chat(prompt)
        answers.append(answer)
        d = answer.decision
        print(f"[{i:2}/{len(PROMPTS)}] {prompt}")
        print(
            f"  route: {d.route.upper():5}  semantic entropy {d.semantic_entropy:.2f} vs threshold "
            f"{d.gate_threshold:.2f} ({d.n_clusters} meanings)  decision {d.timings_ms['total']:.0f} ms  "
            f"answer {answer.answer_ms:.0f} ms"
        )
        if d.fallback:
            print(f"  fallback: {d.fallback}{' [degraded]' if d.degraded else ''}")
        body = textwrap.shorten(" ".join(answer.text.split()), width=300, placeholder=" ...")
        print(textwrap.indent(textwrap.fill(body, width=96), "  > "))
        print(flush=True)
    total_s = time.perf_counter() - started

    cloud_share = sum(a.route == "cloud" for a in answers) / len(answers)
    costs = [a.cost_usd for a in answers if a.cost_usd is not None]
    decision_ms = [a.decision.timings_ms["total"] for a in answers]
    answer_ms = [a.answer_ms for a in answers]
    fallbacks = sum(a.decision.fallback is not None for a in answers)
    print("Summary")
    print(f"  prompts: {len(answers)}, sent to the cloud: {cloud_share:.0%}, fallbacks: {fallbacks}")
    print(f"  cloud cost: ${sum(costs):.6f} (illustrative prices for the stand-in)" if cloud_label.startswith("stand-in")
          else f"  cloud cost: ${sum(costs):.6f}" if costs else "  cloud cost: unknown (no prices given)")
    print(f"  decision time: median {statistics.median(decision_ms):.0f} ms (k local samples + clustering)")
    print(f"  answer time:   median {statistics.median(answer_ms):.0f} ms; whole run {total_s:.1f} s")
    print(f"  (machine: {os.cpu_count()} CPU threads; local model on the CPU)")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if os.environ.get(CLOUD_BASE_URL_ENV):
        cloud = CloudLLM()
        run(cloud, f"{cloud.model} at {cloud.base_url} (configured by the environment)")
        return 0
    print(
        "NOTE: the cloud in this demo is a LOCAL STAND-IN (llama-cpp-python's OpenAI-compatible server\n"
        "on 127.0.0.1, serving the same small model). Point it at a real provider with\n"
        "EDGE_ROUTER_CLOUD_BASE_URL, EDGE_ROUTER_CLOUD_API_KEY and EDGE_ROUTER_CLOUD_MODEL.\n",
        flush=True,
    )
    with StandinServer(threads=1) as server:
        print(f"Cloud stand-in listening on {server.base_url}\n", flush=True)
        cloud = CloudLLM(base_url=server.base_url, model=MODEL_ALIAS, prices=STANDIN_PRICES)
        run(cloud, f"stand-in at {server.base_url}")
    print("Cloud stand-in stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
