"""Offline demo: answer ten varied prompts on the device, offloading the uncertain ones.

The on-device model is Qwen2.5-Coder-0.5B-Instruct (llama.cpp, CPU). The "cloud" is a
stand-in unless you configure a real one: an OpenAI-compatible server started on 127.0.0.1
by this script (edge_router/loopback/standin_app.py), serving the stronger Qwen2.5-Coder-1.5B-Instruct,
so the cloud is the better model, as it is in real use. To use a real provider, set

    EDGE_ROUTER_CLOUD_BASE_URL=https://api.openai.com/v1
    EDGE_ROUTER_CLOUD_API_KEY=sk-...
    EDGE_ROUTER_CLOUD_MODEL=gpt-4o-mini

and run it again; the stand-in is then not started.

The decision is edge-router's trained router when one ships (models/routers/default.onnx):
the prompt is embedded on the device and the router scores it; with the shipped prefill probe
(models/probes/) the local model then prefills the prompt, a probe reads its own state, and the
prompt goes to the cloud when the combined score reaches the calibrated threshold (a prompt kept
on the device is answered from that prefill). Without a router (or with
``--mode gate``) it is the uncertainty gate: the local model answers each prompt five
times at temperature 1, the answers are clustered by meaning, and the prompt goes to the
cloud when the semantic entropy over those clusters is above the gate's threshold.
``--check`` adds the answer check: each local answer's first tokens are held back and judged
from their own log-probabilities; an unsure start is dropped and the cloud answers.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import sys
import textwrap
import time

from edge_router import CloudLLM, EdgeRouter, Prices
from edge_router.defaults import MODES
from edge_router.loopback.standin import MODEL_ALIAS, StandinServer
from edge_router.settings import CLOUD_BASE_URL_ENV

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


def _describe_decider(router: EdgeRouter) -> str:
    parts = []
    calibrated = f" ({router.policy.source})" if router.router is not None else ""
    if router.state_probe is not None:
        parts.append(f"trained router ({router.router.kind}) and a probe on the local model's own state (layer "
                     f"{router.state_probe.layer}) combined, offload when P(only the cloud answer right) >= "
                     f"{router.threshold:.3f}{calibrated}")
    elif router.router is not None:
        parts.append(f"trained router ({router.router.kind}, {router.router.path.name}), offload when its score "
                     f">= {router.threshold:.3f}{calibrated}")
    if router.gate is not None:
        gate = router.gate
        parts.append(f"uncertainty gate, k={gate.k} samples of up to {gate.max_tokens} tokens, "
                     f"{gate.clusterer.name} clustering, offload when semantic entropy > {gate.threshold} nats")
    if router.answer_check is not None:
        check = router.answer_check
        parts.append(f"answer check, hold {check.hold_tokens} tokens, offload when P(local answer wrong) >= "
                     f"{check.threshold:.3f}")
    return "; then ".join(parts)


def _decision_line(d) -> str:
    parts = [f"route: {d.route.upper():5}"]
    if d.privacy:
        parts.append(f"holds {', '.join(d.privacy)}")
    if d.state_score is not None:
        parts.append(f"router {d.score:.3f}, probe {d.state_score:.3f}, combined vs threshold {d.threshold:.3f}")
    elif d.score is not None:
        parts.append(f"router score {d.score:.3f} vs threshold {d.threshold:.3f}")
    if d.semantic_entropy is not None:
        parts.append(f"semantic entropy {d.semantic_entropy:.2f} vs {d.gate_threshold:.2f} ({d.n_clusters} meanings)")
    if d.check_score is not None:
        parts.append(f"check P(wrong) {d.check_score:.3f} vs {d.check_threshold:.3f} after {d.check_tokens} tokens")
    return "  ".join(parts)


def _decision_time(d) -> str:
    """The decision's time, saying where it holds the prefill a kept prompt's answer reuses."""
    text = f"decision {d.timings_ms['total']:.1f} ms"
    prefill = d.timings_ms.get("prefill_probe", 0.0)
    if prefill and d.route == "local":
        text += f" (the prompt's prefill, {prefill:.0f} ms of it, is reused by the answer)"
    return text


def run(cloud: CloudLLM, cloud_label: str, mode: str | None, check: bool) -> None:
    print("Loading the on-device model and embedder ...", flush=True)
    # No threshold given: the router offloads at its threshold for the SDK's default cloud share, the one
    # benchmarks/results/default_share.md chose; prompts unlike its calibration ones may send more or less.
    router = EdgeRouter.from_defaults(mode=mode, cloud=cloud, max_tokens=ANSWER_TOKENS, check=check)
    print(f"Decision: {_describe_decider(router)}.\nLocal model: {router.local.id}. Cloud: {cloud_label}.\n")
    answers = []
    started = time.perf_counter()
    for i, prompt in enumerate(PROMPTS, 1):
        answer = router.chat(prompt)
        answers.append(answer)
        d = answer.decision
        print(f"[{i:2}/{len(PROMPTS)}] {prompt}")
        print(f"  {_decision_line(d)}  {_decision_time(d)}  answer {answer.answer_ms:.0f} ms")
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
    if not costs:
        print("  cloud cost: unknown (no prices given)")
    else:
        note = " (illustrative prices for the stand-in)" if cloud_label.startswith("stand-in") else ""
        print(f"  cloud cost: ${sum(costs):.6f}{note}")
    reused = " (a kept prompt's includes its prefill, which its answer reuses)" if router.state_probe else ""
    print(f"  decision time: median {statistics.median(decision_ms):.1f} ms{reused}")
    print(f"  answer time:   median {statistics.median(answer_ms):.0f} ms; whole run {total_s:.1f} s")
    print(f"  (machine: {os.cpu_count()} CPU threads; local model on the CPU)")
    if router.gate is not None:
        print("  The gate keeps a prompt on the device when the local model's short-answer samples agree, and\n"
              "  sends it out when they scatter (benchmarks/results/pair_labels.md).")


def main() -> int:
    parser = argparse.ArgumentParser(description="edge-router offline demo")
    parser.add_argument("--mode", choices=MODES, help="how to decide (default: the shipped router, else the gate)")
    parser.add_argument("--check", action="store_true", help="judge each local answer's first tokens too")
    args = parser.parse_args()
    mode, check = args.mode, args.check
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if os.environ.get(CLOUD_BASE_URL_ENV):
        cloud = CloudLLM()
        run(cloud, f"{cloud.model} at {cloud.base_url} (configured by the environment)", mode, check)
        return 0
    print(
        "NOTE: the cloud in this demo is a LOCAL STAND-IN: an OpenAI-compatible server on 127.0.0.1 in its\n"
        "own process, serving a stronger model than the on-device one. Point it at a real provider with\n"
        "EDGE_ROUTER_CLOUD_BASE_URL, EDGE_ROUTER_CLOUD_API_KEY and EDGE_ROUTER_CLOUD_MODEL.\n",
        flush=True,
    )
    with StandinServer(threads=os.cpu_count()) as server:
        print(f"Cloud stand-in ({server.model_id}) listening on {server.base_url}\n", flush=True)
        cloud = CloudLLM(base_url=server.base_url, model=MODEL_ALIAS, prices=STANDIN_PRICES)
        run(cloud, f"stand-in serving {server.model_id} at {server.base_url}", mode, check)
    print("Cloud stand-in stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
