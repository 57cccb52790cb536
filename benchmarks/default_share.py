"""The default cloud share, chosen by measurement: ``benchmarks/results/default_share.md`` and ``.json``.

The SDK, the CLI, ``serve`` and the demo offload at the shipped router's threshold for one cloud share
(``edge_router.defaults.CLOUD_SHARE``). This page chooses it. For each calibrated share (10 % … 90 %), on the
on-device pair's label rows of the calibration split (Qwen2.5-Coder-0.5B's and 1.5B's greedy answers, each
scored against the gold answer; the split the thresholds come from, never the evaluation sets): the share
realised, the system's accuracy and the gap recovered (PGR). The share chosen is the one where the router beats
random sending by most, PGR − realised share (random recovers its own share of the gap), the lower share on a
tie. Reported beside it, never used to choose: the same figures on the on-device pair's GSM8K and MMLU outcomes,
and the share realised on everyday chat prompts and the demo's prompts (how far "calibrated for s" holds on
prompts unlike the calibration ones).

Where the prefill probe ships, the default decision is the router combined with it (``models/routers/policy.json``):
the same is done for that decision on the policy's own calibration rows (label rows, asked both ways, and GSM8K
training answers), where only "the strong answer alone is right" is recorded: the share of those rows sent (the
gains caught; random sending catches its own share) less the share sent, and the share realised on the chat
prompts, each prefilled by the local model for its probe.

    python benchmarks/default_share.py
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import numpy as np

from edge_router import Embedder
from edge_router.backends.router_model import RouterModel, trained_on
from edge_router.bench import environment
from edge_router.bench.pages import fmt, pct, write_json
from edge_router.data import eval_data
from edge_router.data.embedding_cache import EmbeddingCache
from edge_router.defaults import CLOUD_SHARE
from edge_router.files.shipped import shipped_policy, shipped_router, shipped_state_probe
from edge_router.training.labels import read_rows

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LABELS = ROOT / "models" / "routers" / "qwen-pair.labels.jsonl.gz"
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
EVERYDAY = [  # what a chat app's users type on a first day: greetings, small facts, small tasks
    "hi", "thanks!", "What is 2+2?", "Who wrote Romeo and Juliet?", "good morning", "What's the weather like on Mars?",
    "Translate 'thank you' into French.", "Give me a synonym for happy.", "How do I boil an egg?",
    "What time zone is Tokyo in?", "Write a short birthday message for my sister.", "What does HTTP stand for?",
    "Summarise the plot of Cinderella in one sentence.", "Is a tomato a fruit?", "How many days are in a leap year?",
    "Suggest a name for a grey cat.", "What is the square root of 144?", "Explain recursion to a child.",
    "Write a Python function that reverses a string.", "Why is the sky blue?",
]


def demo_prompts() -> list[str]:
    spec = importlib.util.spec_from_file_location("offline_demo", ROOT / "examples" / "offline_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.PROMPTS)


def curve(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray, thresholds: list[float]) -> list[dict]:
    """Per threshold: the share sent, the system's accuracy, PGR and PGR − share."""
    gap = strong.mean() - weak.mean()
    out = []
    for t in thresholds:
        sent = scores >= t
        accuracy = float(np.where(sent, strong, weak).mean())
        pgr = (accuracy - weak.mean()) / gap if gap > 0 else float("nan")
        out.append({"realised": float(sent.mean()), "accuracy": accuracy, "pgr": float(pgr),
                    "over_random": float(pgr - sent.mean())})
    return out


def policy_report(router: RouterModel, cache: EmbeddingCache, chats: dict[str, list[str]]) -> dict | None:
    """The default decision (router + prefill probe) at each calibrated share: on the policy's calibration rows,
    the share sent and the gains caught; on the chat prompts, the share sent (the local model prefills each)."""
    from edge_router import LocalLLM
    from edge_router.routing.policy import CombinationPolicy
    from edge_router.uncertainty.state_probe import StateProbe

    if shipped_policy() is None or shipped_state_probe() is None:
        return None
    policy, probe = CombinationPolicy.load(shipped_policy()), StateProbe.load(shipped_state_probe())
    rows = policy.calibration()
    thresholds = [policy.threshold_for_share(s) for s in SHARES]
    sent = [rows.combined >= t for t in thresholds]
    curve_rows = [{"realised": float(x.mean()), "caught": float(rows.quality(x)),
                   "over_random": float(rows.quality(x) - x.mean())} for x in sent]
    llm = LocalLLM(policy.local_model, threads=2)
    realised = {}
    for name, prompts in chats.items():
        routed = router.score(cache.embed(prompts))
        combined = np.array([policy.score(float(r), probe.score(llm.prefill_state(p, keep=False)))
                             for r, p in zip(routed, prompts)])
        realised[name] = [float((combined >= t).mean()) for t in thresholds]
    best = max(range(len(SHARES)), key=lambda i: (round(curve_rows[i]["over_random"], 6), -SHARES[i]))
    return {"thresholds": thresholds, "n": len(rows.router), "curve": curve_rows, "chosen": SHARES[best],
            "chat_realised": realised}


def policy_lines(report: dict, chats: dict[str, list[str]]) -> list[str]:
    best = SHARES.index(report["chosen"])
    lines = ["## The default decision: router + prefill probe, on the policy's calibration rows, "
             f"n = {report['n']}", "",
             f"Largest gains caught − share: {pct(report['chosen'])}. Reported, not chosen: these rows record only "
             "where the strong answer alone is right, not where it alone is wrong, so this measure leans to larger "
             "shares than PGR − share would; the SDK's default stays the share chosen above.", "",
             "| calibrated share | threshold | share sent | gains caught (rows only the strong answer gets right) | "
             "caught − share | " + " | ".join(f"share sent: {name} (n = {len(chats[name])})" for name in chats)
             + " |", "|---|---|---|---|---|" + "---|" * len(chats)]
    lines += [f"| {pct(s)}{' (largest)' if i == best else ''} | {report['thresholds'][i]:.3f} | {pct(c['realised'])} | "
              f"{pct(c['caught'])} | {fmt(c['over_random'])} | "
              + " | ".join(pct(report["chat_realised"][name][i]) for name in chats) + " |"
              for i, (s, c) in enumerate(zip(SHARES, report["curve"]))]
    return [*lines, ""]


def main() -> int:
    router_path = shipped_router()
    if router_path is None:
        print("no router ships (models/routers/default.onnx); nothing to choose", file=sys.stderr)
        return 1
    embedder = Embedder(name=trained_on(router_path))
    router = RouterModel(router_path, embedder_id=embedder.id, dim=embedder.dim)
    cache = EmbeddingCache(embedder)
    thresholds = [router.threshold_for_share(s) for s in SHARES]

    rows = [r for r in read_rows(LABELS) if r["split"] == "calibration"
            and r["weak"].get("correct") is not None and r["strong"].get("correct") is not None]
    scores = router.score(cache.embed([r["prompt"] for r in rows]))
    strong = np.array([r["strong"]["correct"] for r in rows], float)
    weak = np.array([r["weak"]["correct"] for r in rows], float)
    chooser = curve(scores, strong, weak, thresholds)
    best = max(range(len(SHARES)), key=lambda i: (round(chooser[i]["over_random"], 6), -SHARES[i]))

    sets = {"label rows, calibration split (chooses)": (chooser, len(rows))}
    for benchmark in ("gsm8k", "mmlu"):
        try:
            eval_set = eval_data.load(benchmark, "on-device")
        except Exception as exc:  # the shared benchmark data is absent on this machine
            print(f"{benchmark}: skipped ({exc})", file=sys.stderr)
            continue
        sets[f"{benchmark.upper()} outcomes (reported only)"] = (
            curve(router.score(cache.embed(eval_set.prompts)), eval_set.strong, eval_set.weak, thresholds),
            len(eval_set.prompts))
    chats = {"everyday chat prompts": EVERYDAY, "the demo's prompts": demo_prompts()}
    realised = {name: [float((router.score(cache.embed(p)) >= t).mean()) for t in thresholds]
                for name, p in chats.items()}
    policy = policy_report(router, cache, chats)

    report = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": environment.describe(), "router": router_path.name, "shares": list(SHARES),
              "thresholds": thresholds, "chosen": SHARES[best], "in_defaults": CLOUD_SHARE,
              "sets": {name: {"n": n, "curve": c} for name, (c, n) in sets.items()}, "chat_realised": realised,
              "default_decision": policy}
    write_json(report, RESULTS / "default_share.json")
    lines = ["# The default cloud share", "",
             f"Generated {report['generated']} by `benchmarks/default_share.py` on {report['environment']['cpu']} "
             f"({report['environment']['cores']} cores), for the shipped router ({router.kind}, "
             f"`{router_path.name}`). PGR is the share of the gap between the 0.5B alone and the 1.5B alone "
             "that the routed system recovers; random sending recovers its own share, so PGR − share is what the "
             "router adds.", "",
             f"**Chosen: {pct(SHARES[best])}** (the largest PGR − share on the calibration split's "
             f"{len(rows)} label rows). `edge_router.defaults.CLOUD_SHARE` is {pct(CLOUD_SHARE)}"
             + ("." if abs(CLOUD_SHARE - SHARES[best]) < 1e-9 else ": out of date, set it to the chosen share."),
             ""]
    for name, (c, n) in sets.items():
        lines += [f"## {name}, n = {n}", "",
                  "| calibrated share | threshold | share sent | accuracy | PGR | PGR − share |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {pct(s)}{' (chosen)' if i == best else ''} | {thresholds[i]:.3f} | {pct(p['realised'])} | "
                  f"{pct(p['accuracy'])} | {fmt(p['pgr'])} | {fmt(p['over_random'])} |"
                  for i, (s, p) in enumerate(zip(SHARES, c))]
        lines.append("")
    lines += ["## Share sent on chat prompts unlike the calibration ones", "",
              "| calibrated share | " + " | ".join(f"{name} (n = {len(chats[name])})" for name in chats) + " |",
              "|---|" + "---|" * len(chats)]
    lines += [f"| {pct(s)}{' (chosen)' if i == best else ''} | "
              + " | ".join(pct(realised[name][i]) for name in chats) + " |" for i, s in enumerate(SHARES)]
    if policy is not None:
        lines += ["", *policy_lines(policy, chats)]
    (RESULTS / "default_share.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"chosen cloud share {SHARES[best]:.1f} (defaults.CLOUD_SHARE = {CLOUD_SHARE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
