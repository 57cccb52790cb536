"""The privacy stage's detectors, measured: ``benchmarks/results/privacy.md`` and ``privacy.json``.

1. Microsoft Presidio's labelled evaluation sentences (``pii/synth_dataset_v2.json``, 1,500 sentences; never
   trained on): per entity type of the default set, sentence-level keep-local recall (the sentence would be kept
   on the device, by any detector) and detection recall (that type was found), and span-level precision, recall
   and F1 (a found span counts when it overlaps a gold span of the same type).
2. False alarms on benchmark questions (NQ-open, TriviaQA, MMLU, GSM8K: public names and places, nobody's
   personal data): the share of questions the default set would keep on the device, per type.
3. Time per query of all detectors together, p50 and p99, on those questions.
4. The fuzz run's counts, when ``benchmarks/privacy_fuzz.py`` has written them.

    python benchmarks/privacy.py
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

from edge_router.bench import environment
from edge_router.bench.pages import fmt, pct, write_json
from edge_router.data import datasets
from edge_router.privacy.detectors import detect, phone_backend
from edge_router.privacy.policy import PrivacyPolicy
from edge_router.settings import data_dir

RESULTS = Path(__file__).resolve().parent / "results"
PRESIDIO = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN",
            "US_SSN": "US_SSN", "IP_ADDRESS": "IP", "STREET_ADDRESS": "STREET_ADDRESS"}
BENCHMARK_SETS = ("nq-open", "triviaqa", "mmlu", "gsm8k")
RECALL_TARGET, F1_TARGET, FALSE_ALARM_TARGET, P50_TARGET_MS = 0.99, 0.85, 0.01, 1.0


def presidio_scores(rows: list[dict], types: tuple[str, ...]) -> dict:
    per_type = {t: {"sentences": 0, "kept": 0, "found_type": 0, "gold_spans": 0, "hit_spans": 0,
                    "predicted": 0, "correct": 0} for t in types}
    for row in rows:
        text = row["full_text"]
        found = detect(text, types)
        gold = [(PRESIDIO[s["entity_type"]], s["start_position"], s["end_position"]) for s in row["spans"]
                if PRESIDIO.get(s["entity_type"]) in types]
        for t in {g[0] for g in gold}:
            cell = per_type[t]
            cell["sentences"] += 1
            cell["kept"] += bool(found)
            cell["found_type"] += any(e.type == t for e in found)
        for t, start, end in gold:
            per_type[t]["gold_spans"] += 1
            per_type[t]["hit_spans"] += any(e.type == t and e.start < end and start < e.end for e in found)
        for e in found:
            per_type[e.type]["predicted"] += 1
            per_type[e.type]["correct"] += any(t == e.type and e.start < end and start < e.end
                                               for t, start, end in gold)
    out = {}
    for t, c in per_type.items():
        recall = c["hit_spans"] / c["gold_spans"] if c["gold_spans"] else None
        precision = c["correct"] / c["predicted"] if c["predicted"] else None
        f1 = 2 * precision * recall / (precision + recall) if recall and precision else None
        out[t] = {**c, "keep_local_recall": c["kept"] / c["sentences"] if c["sentences"] else None,
                  "detection_recall": c["found_type"] / c["sentences"] if c["sentences"] else None,
                  "span_recall": recall, "span_precision": precision, "span_f1": f1}
    return out


def false_alarms(types: tuple[str, ...]) -> dict:
    out, times = {}, []
    for name in BENCHMARK_SETS:
        prompts = datasets.load(name)
        flagged: dict[str, int] = {}
        any_flag = 0
        for p in prompts:
            t0 = time.perf_counter()
            found = detect(p.question, types)
            times.append((time.perf_counter() - t0) * 1e3)
            any_flag += bool(found)
            for kind in {e.type for e in found}:
                flagged[kind] = flagged.get(kind, 0) + 1
        out[name] = {"questions": len(prompts), "kept": any_flag, "share": any_flag / len(prompts), "by_type": flagged}
    times.sort()
    return {"sets": out, "ms_p50": statistics.median(times), "ms_p99": times[int(0.99 * (len(times) - 1))],
            "timed_queries": len(times)}


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = ["# Privacy: detectors of personal data and secrets", "",
             f"Generated {report['generated']} by `benchmarks/privacy.py` on {env['cpu']} ({env['cores']} cores); "
             f"phone numbers by `{report['phone_backend']}`. Default set: {', '.join(report['types'])}. "
             "People's and organisations' names are not detected yet (no on-device name classifier ships).", "",
             "## Presidio's evaluation sentences (1,500; never trained on)", "",
             "| type | sentences | keep-local recall (sentence) | type found (sentence) | span recall | "
             "span precision | span F1 |", "|---|---|---|---|---|---|---|"]
    for t, c in report["presidio"].items():
        lines.append(f"| {t} | {c['sentences']} | {pct(c['keep_local_recall'])} | {pct(c['detection_recall'])} | "
                     f"{pct(c['span_recall'])} | {pct(c['span_precision'])} | {fmt(c['span_f1'])} |")
    fa = report["false_alarms"]
    lines += ["", "## False alarms on benchmark questions", "",
              "| set | questions | kept on the device | share | by type |", "|---|---|---|---|---|"]
    for name, c in fa["sets"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(c["by_type"].items())) or "—"
        lines.append(f"| {name} | {c['questions']} | {c['kept']} | {pct(c['share'])} | {kinds} |")
    lines += ["", f"Detection time over {fa['timed_queries']} questions: p50 {fmt(fa['ms_p50'])} ms, "
              f"p99 {fmt(fa['ms_p99'])} ms (all pattern detectors together).", "", "## Targets", "",
              "| target | measured | verdict |", "|---|---|---|"]
    for t, c in report["presidio"].items():
        r = c["keep_local_recall"]
        if r is not None:
            lines.append(f"| {t}: sentence-level keep-local recall ≥ {RECALL_TARGET} | {fmt(r)} | "
                         f"{'met' if r >= RECALL_TARGET else f'missed by {RECALL_TARGET - r:.3f}'} |")
    address = report["presidio"].get("STREET_ADDRESS", {}).get("span_f1")
    lines.append(f"| street addresses: span F1 ≥ {F1_TARGET} | {fmt(address)} | "
                 f"{'met' if address and address >= F1_TARGET else 'missed'} |")
    lines.append(f"| names: span F1 ≥ {F1_TARGET} | not measured | missed: no name classifier ships yet |")
    worst = max(c["share"] for c in fa["sets"].values())
    lines.append(f"| false alarms ≤ {pct(FALSE_ALARM_TARGET)} of benchmark questions (worst set) | {pct(worst)} | "
                 f"{'met' if worst <= FALSE_ALARM_TARGET else 'missed'} |")
    lines.append(f"| pattern detectors ≤ {P50_TARGET_MS:g} ms p50 | {fmt(fa['ms_p50'])} ms | "
                 f"{'met' if fa['ms_p50'] <= P50_TARGET_MS else 'missed'} |")
    fuzz = report.get("fuzz")
    if fuzz:
        lines.append(f"| fuzz through `serve` in redact mode: zero values reach the cloud | {fuzz['leaked']} of "
                     f"{fuzz['values']} values | {'met' if fuzz['leaked'] == 0 else 'missed'} |")
        lines.append(f"| every restored answer holds the original values | {fuzz['unrestored']} missing | "
                     f"{'met' if fuzz['unrestored'] == 0 else 'missed'} |")
        lines += ["", f"Fuzz run (`benchmarks/privacy_fuzz.py`): {fuzz['prompts']} generated prompts (seed "
                  f"{fuzz['seed']}, half of them streamed) with {fuzz['values']} values of "
                  f"{len(fuzz['by_type'])} types, through the real server to a loopback cloud that records what it "
                  f"receives and echoes the prompt; {fuzz['failed_requests']} requests failed; {fuzz['seconds']} s."]
    return "\n".join(lines) + "\n"


def main() -> int:
    path = data_dir() / "pii" / "synth_dataset_v2.json"
    if not path.is_file():
        print(f"{path} does not exist: point EDGE_ROUTER_DATA at the shared data folder", file=sys.stderr)
        return 2
    types = PrivacyPolicy().types
    report = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": environment.describe(), "phone_backend": phone_backend(), "types": list(types),
              "presidio": presidio_scores(json.loads(path.read_text(encoding="utf-8")), types),
              "false_alarms": false_alarms(types)}
    fuzz = RESULTS / "privacy_fuzz.json"
    if fuzz.is_file():
        report["fuzz"] = json.loads(fuzz.read_text(encoding="utf-8"))
    write_json(report, RESULTS / "privacy.json")
    (RESULTS / "privacy.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
