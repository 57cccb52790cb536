"""Redaction, fuzzed end to end: 1,000 generated prompts with personal data through ``edge-router serve`` in redact
mode, forced to a loopback cloud that records every request it receives.

The server is the real one (``serving.server.create_app`` under uvicorn, on 127.0.0.1); the cloud is the loopback
``CloudServer``, which answers with the prompt it was sent, so the restored answer must hold the original values.
The local side is ``edge_router.testing``'s fakes (every request is forced to the cloud; no local model is needed).
Counts: values that reached the cloud (target 0), answers missing a value after restoring (target 0).
Writes ``benchmarks/results/privacy_fuzz.json``; ``benchmarks/privacy.py`` puts it on the privacy page.

    python benchmarks/privacy_fuzz.py [--prompts 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import requests

from edge_router import CloudLLM, EdgeRouter, PrivacyPolicy
from edge_router.bench import environment
from edge_router.bench.pages import write_json
from edge_router.loopback.in_process import serving
from edge_router.serving.server import create_app
from edge_router.testing import CloudServer, FakeEmbedder, FakeLocal, FakeRouter

RESULTS = Path(__file__).resolve().parent / "results"
FIRST = ("ana", "li", "omar", "jane", "kofi", "mei", "sven", "priya", "tomas", "yuki")
LAST = ("smith", "garcia", "nguyen", "okafor", "schmidt", "rossi", "kowalski", "tanaka", "silva", "haddad")
STREETS = ("Evergreen Terrace", "Maple Street", "Oak Avenue", "Harbour Road", "Linden Lane", "Mill Drive")
TEMPLATES = (
    "Please email {EMAIL} and say the meeting moved to 3pm.",
    "Call me back on {PHONE} after lunch.",
    "Charge it to my card {CARD}, expiry next year.",
    "Transfer the rent to {IBAN} before Friday.",
    "My social security number is {US_SSN}; fill in the form.",
    "Why does the server at {IP} refuse connections?",
    "Fix this code: client = OpenAI(api_key='{SECRET}')",
    "Send the parcel to {STREET_ADDRESS}, thanks.",
    "Write to {EMAIL} and call {PHONE} about the invoice for {STREET_ADDRESS}.",
)


def _luhn_complete(digits: str) -> str:
    for check in "0123456789":
        total = sum((int(d) * 2 - 9 if int(d) * 2 > 9 else int(d) * 2) if i % 2 else int(d)
                    for i, d in enumerate(reversed(digits + check)))
        if total % 10 == 0:
            return digits + check
    raise AssertionError("unreachable")


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + "DE00")) % 97
    raw = f"DE{check:02d}{bban}"
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _card(rng: random.Random) -> str:
    number = _luhn_complete("4" + "".join(rng.choice("0123456789") for _ in range(14)))
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def values(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "EMAIL": f"{first}.{last}{rng.randint(1, 99)}@example{rng.choice(['.com', '.org', '.co.uk'])}",
        "PHONE": rng.choice([f"+1 415 {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                             f"(212) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
                             f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}"]),
        "CARD": _card(rng),
        "IBAN": _iban(rng),
        "US_SSN": f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
        "IP": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "SECRET": "sk-live-" + "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789") for _ in range(24)),
        "STREET_ADDRESS": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    cloud_server = CloudServer().start()
    router = EdgeRouter(local=FakeLocal(), cloud=CloudLLM(base_url=cloud_server.base_url, model="m", max_retries=0),
                        router=FakeRouter(), embedder=FakeEmbedder(), privacy=PrivacyPolicy(mode="redact"))
    with serving(create_app(router)) as base_url:
        report = fuzz(base_url, cloud_server, rng, args.prompts)
    cloud_server.stop()
    report = {"environment": environment.describe(), "prompts": args.prompts, "seed": args.seed,
              "streamed_share": 0.5, **report}
    write_json(report, RESULTS / "privacy_fuzz.json")
    print(report)
    return 0 if report["leaked"] == 0 and report["unrestored"] == 0 and report["failed_requests"] == 0 else 1


def fuzz(base_url: str, cloud_server: CloudServer, rng: random.Random, prompts: int) -> dict:
    """Send ``prompts`` generated prompts; count values that reached the cloud and answers missing a value."""
    leaks, unrestored, failures, by_type = 0, 0, 0, {}
    started = time.perf_counter()
    for i in range(prompts):
        template = TEMPLATES[i % len(TEMPLATES)]
        filled = values(rng)
        used = {k: v for k, v in filled.items() if "{" + k + "}" in template}
        prompt = template.format(**filled)
        body = {"model": "edge-router", "messages": [{"role": "user", "content": prompt}], "max_tokens": 16,
                "edge_router": {"force": "cloud"}, "stream": i % 2 == 1}
        response = requests.post(f"{base_url}/v1/chat/completions", json=body, timeout=30)
        if response.status_code != 200:
            failures += 1
            continue
        sent = cloud_server.requests[-1]["body"]["messages"][-1]["content"]
        answer = (response.json()["choices"][0]["message"]["content"] if not body["stream"] else
                  "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                          for line in response.text.splitlines()
                          if line.startswith("data: {") and '"choices"' in line))
        for kind, value in used.items():
            cell = by_type.setdefault(kind, {"values": 0, "leaked": 0, "unrestored": 0})
            cell["values"] += 1
            if value in sent:
                cell["leaked"] += 1
                leaks += 1
            if value not in answer:
                cell["unrestored"] += 1
                unrestored += 1
    return {"values": sum(c["values"] for c in by_type.values()), "leaked": leaks, "unrestored": unrestored,
            "failed_requests": failures, "by_type": by_type, "seconds": round(time.perf_counter() - started, 1)}


if __name__ == "__main__":
    sys.exit(main())
