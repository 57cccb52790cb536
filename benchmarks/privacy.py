"""The privacy stage's detectors, measured: ``benchmarks/results/privacy.md`` and ``privacy.json``.

1. Microsoft Presidio's labelled evaluation sentences (``pii/synth_dataset_v2.json``, 1,500 sentences; never
   trained on): per entity type of the default set and the names the tagger reports, sentence-level keep-local
   recall (the default policy would keep the sentence on the device) and detection recall (that type was
   found), and span-level precision, recall and F1 (a found span counts when it overlaps a gold span of the same
   type; for "names", a PERSON or ORGANIZATION span overlapping either). Street addresses also by the patterns
   alone, to show what the tagger adds.
2. False alarms on benchmark questions (NQ-open, TriviaQA, MMLU, GSM8K: public names and places, nobody's
   personal data): the share of questions the default set would keep on the device, per type, and the share in
   which the tagger reports a name (not a trigger by default).
3. Time per query: the pattern detectors together (p50, p99, every question), and the name tagger on top of
   the router's encoder pass (p50, p99 on a sample), beside that pass itself.
4. Phone numbers and street addresses as Faker writes them in many locales, with no cue word
   (``privacy_generated.py``; needs faker): a check independent of Presidio's sentences; and whole addresses,
   covered by one span or not.
5. The fuzz run's counts, when ``benchmarks/privacy_fuzz.py`` has written them.

    python benchmarks/privacy.py
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import privacy_generated

from edge_router.backends.embedder import Embedder
from edge_router.bench import environment
from edge_router.bench.pages import fmt, pct, write_json
from edge_router.data import datasets
from edge_router.privacy.detectors import detect
from edge_router.privacy.phones import phone_backend
from edge_router.privacy.policy import PrivacyPolicy
from edge_router.privacy.scanner import Scanner
from edge_router.settings import data_dir

RESULTS = Path(__file__).resolve().parent / "results"
PRESIDIO = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CARD", "IBAN_CODE": "IBAN",
            "US_SSN": "US_SSN", "IP_ADDRESS": "IP", "STREET_ADDRESS": "STREET_ADDRESS", "PERSON": "PERSON",
            "ORGANIZATION": "ORGANIZATION"}
NAMES = ("PERSON", "ORGANIZATION")
BENCHMARK_SETS = ("nq-open", "triviaqa", "mmlu", "gsm8k")
RECALL_TARGET, F1_TARGET, FALSE_ALARM_TARGET, P50_TARGET_MS, TAGGER_TARGET_MS = 0.99, 0.85, 0.01, 1.0, 2.0
TIMED_TAGGER_QUESTIONS = 2000


def _overlaps(e, start: int, end: int) -> bool:
    return e.start < end and start < e.end


def presidio_scores(rows: list[dict], scanner: Scanner) -> dict:
    policy = scanner.policy
    rows_of = {t: t for t in (*policy.types, *NAMES)}
    per_type = {t: {"sentences": 0, "kept": 0, "found_type": 0, "gold_spans": 0, "hit_spans": 0,
                    "predicted": 0, "correct": 0} for t in (*rows_of, "names")}
    for row in rows:
        text = row["full_text"]
        found = scanner.scan(text)
        kept = any(e.type in policy.types for e in found)
        gold = [(PRESIDIO[s["entity_type"]], s["start_position"], s["end_position"]) for s in row["spans"]
                if PRESIDIO.get(s["entity_type"]) in rows_of]
        gold += [("names", start, end) for t, start, end in gold if t in NAMES]
        found = [*found, *(replace(e, type="names") for e in found if e.type in NAMES)]
        for t in {g[0] for g in gold}:
            cell = per_type[t]
            cell["sentences"] += 1
            cell["kept"] += kept
            cell["found_type"] += any(e.type == t for e in found)
        for t, start, end in gold:
            per_type[t]["gold_spans"] += 1
            per_type[t]["hit_spans"] += any(e.type == t and _overlaps(e, start, end) for e in found)
        for e in found:
            if e.type in per_type:
                per_type[e.type]["predicted"] += 1
                per_type[e.type]["correct"] += any(t == e.type and _overlaps(e, start, end) for t, start, end in gold)
    out = {}
    for t, c in per_type.items():
        recall = c["hit_spans"] / c["gold_spans"] if c["gold_spans"] else None
        precision = c["correct"] / c["predicted"] if c["predicted"] else None
        f1 = 2 * precision * recall / (precision + recall) if recall and precision else None
        triggers = t in policy.types
        out[t] = {**c, "triggers": triggers,
                  "keep_local_recall": c["kept"] / c["sentences"] if c["sentences"] and triggers else None,
                  "detection_recall": c["found_type"] / c["sentences"] if c["sentences"] else None,
                  "span_recall": recall, "span_precision": precision, "span_f1": f1}
    return out


def false_alarms(scanner: Scanner) -> dict:
    """Pattern detection timed on every question; the tagger on the router's pass (made once per question), timed
    on a sample."""
    policy, encoder, tagger = scanner.policy, scanner.encoder, scanner.tagger
    out, times, tagger_ms, encoder_ms = {}, [], [], []
    for name in BENCHMARK_SETS:
        prompts = datasets.load(name)
        every = max(1, len(prompts) * len(BENCHMARK_SETS) // TIMED_TAGGER_QUESTIONS)
        flagged: dict[str, int] = {}
        any_flag = named = 0
        for i, p in enumerate(prompts):
            t0 = time.perf_counter()
            detect(p.question, policy.pattern_types)
            times.append((time.perf_counter() - t0) * 1e3)
            t1 = time.perf_counter()
            embedded = encoder.embed_one(p.question, keep_states=True)  # the router's own pass, as in a decision
            t2 = time.perf_counter()
            if i % every == 0:
                tagger.find(p.question, [embedded.states])
                encoder_ms.append((t2 - t1) * 1e3)
                tagger_ms.append((time.perf_counter() - t2) * 1e3)
            found = scanner.scan(p.question, embedded.states)
            kept = {e.type for e in found if e.type in policy.types}
            any_flag += bool(kept)
            named += any(e.type in NAMES for e in found)
            for kind in kept:
                flagged[kind] = flagged.get(kind, 0) + 1
        out[name] = {"questions": len(prompts), "kept": any_flag, "share": any_flag / len(prompts),
                     "by_type": flagged, "names_reported": named, "names_share": named / len(prompts)}
    return {"sets": out, "ms_p50": _p(times, 0.5), "ms_p99": _p(times, 0.99), "timed_queries": len(times),
            "tagger_ms_p50": _p(tagger_ms, 0.5), "tagger_ms_p99": _p(tagger_ms, 0.99),
            "encoder_ms_p50": _p(encoder_ms, 0.5), "tagger_timed": len(tagger_ms)}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return statistics.median(ordered) if q == 0.5 else ordered[int(q * (len(ordered) - 1))]


def markdown(report: dict) -> str:
    env, card = report["environment"], report["tagger"]
    lines = ["# Privacy: detectors of personal data and secrets", "",
             f"Generated {report['generated']} by `benchmarks/privacy.py` on {env['cpu']} ({env['cores']} cores, "
             f"{', '.join(env['instruction_sets'])}: the int8 models' kernels, and so their timings and to a small "
             "degree their outputs, differ between instruction sets); "
             f"phone numbers by `{report['phone_backend']}`. Default set: {', '.join(report['types'])}. "
             f"People's and organisations' names and street addresses also by the name tagger "
             f"(`models/privacy/name_tagger.onnx`, int8, {card['bytes'] // 1024} KiB: a head over MiniLM's token "
             f"states, trained on {card['sentences']} synthetic sentences, threshold {card['threshold']}); names "
             "are reported, not triggers, by default.", "",
             "## Presidio's evaluation sentences (1,500; never trained on)", "",
             "| type | sentences | keep-local recall (sentence) | type found (sentence) | span recall | "
             "span precision | span F1 |", "|---|---|---|---|---|---|---|"]
    rows = [*report["presidio"].items(), ("STREET_ADDRESS, patterns only", report["patterns_only_address"])]
    for t, c in rows:
        lines.append(f"| {t} | {c['sentences']} | {pct(c['keep_local_recall'])} | {pct(c['detection_recall'])} | "
                     f"{pct(c['span_recall'])} | {pct(c['span_precision'])} | {fmt(c['span_f1'])} |")
    lines += ["", "Keep-local recall is left blank for the names: they do not trigger the default policy. \"names\" "
              "counts a PERSON or ORGANIZATION span that overlaps either."]
    lines += _generated_section(report.get("generated_values"), report.get("envelopes"))
    fa = report["false_alarms"]
    lines += ["", "## False alarms on benchmark questions", "",
              "| set | questions | kept on the device | share | by type | a name reported |",
              "|---|---|---|---|---|---|"]
    for name, c in fa["sets"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(c["by_type"].items())) or "—"
        lines.append(f"| {name} | {c['questions']} | {c['kept']} | {pct(c['share'])} | {kinds} | "
                     f"{pct(c['names_share'])} |")
    lines += ["", f"Pattern detectors over {fa['timed_queries']} questions: p50 {fmt(fa['ms_p50'])} ms, "
              f"p99 {fmt(fa['ms_p99'])} ms (all together). Name tagger over {fa['tagger_timed']} of them, on top of "
              f"the router's encoder pass (p50 {fmt(fa['encoder_ms_p50'])} ms, shared with the routing embedding): "
              f"p50 {fmt(fa['tagger_ms_p50'])} ms, p99 {fmt(fa['tagger_ms_p99'])} ms.", "", "## Targets", "",
              "| target | measured | verdict |", "|---|---|---|"]
    for t, c in report["presidio"].items():
        r = c["keep_local_recall"]
        if r is not None:
            lines.append(f"| {t}: sentence-level keep-local recall ≥ {RECALL_TARGET} | {fmt(r)} | "
                         f"{'met' if r >= RECALL_TARGET else f'missed by {RECALL_TARGET - r:.3f}'} |")
    for label, key in (("street addresses", "STREET_ADDRESS"), ("names (PERSON or ORGANIZATION)", "names"),
                       ("PERSON", "PERSON"), ("ORGANIZATION", "ORGANIZATION")):
        f1 = report["presidio"][key]["span_f1"]
        lines.append(f"| {label}: span F1 ≥ {F1_TARGET} | {fmt(f1)} | "
                     f"{'met' if f1 and f1 >= F1_TARGET else f'missed by {F1_TARGET - (f1 or 0):.3f}'} |")
    worst = max(c["share"] for c in fa["sets"].values())
    lines.append(f"| false alarms ≤ {pct(FALSE_ALARM_TARGET)} of benchmark questions (worst set) | {pct(worst)} | "
                 f"{'met' if worst <= FALSE_ALARM_TARGET else 'missed'} |")
    lines.append(f"| pattern detectors ≤ {P50_TARGET_MS:g} ms p50 | {fmt(fa['ms_p50'])} ms | "
                 f"{'met' if fa['ms_p50'] <= P50_TARGET_MS else 'missed'} |")
    lines.append(f"| name tagger ≤ {TAGGER_TARGET_MS:g} ms on top of the encoder pass (p50) | "
                 f"{fmt(fa['tagger_ms_p50'])} ms | {'met' if fa['tagger_ms_p50'] <= TAGGER_TARGET_MS else 'missed'} |")
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


def _generated_section(generated: dict | None, envelopes: dict | None) -> list[str]:
    lines = ["", "## Generated values in many locales (Faker; independent of Presidio's sentences)", ""]
    if generated is None:
        return [*lines, "Not measured: faker is not installed (`pip install -e '.[dev]'`)."]
    lines += [f"Each value alone in one of {len(privacy_generated.FRAMES)} sentences with no cue word "
              f"(\"Send it to … please.\"), seed {privacy_generated.SEED}: found = the patterns found an entity of "
              "its type overlapping it; kept = the default policy (patterns and tagger) keeps the sentence on the "
              "device.", "", "| type | locales | values | found by the patterns | kept on the device |",
              "|---|---|---|---|---|"]
    for kind, c in generated.items():
        lines.append(f"| {kind} | {len(c['by_locale'])} | {c['values']} | {pct(c['found'])} | {pct(c['kept'])} |")
    for kind, c in generated.items():
        per = ", ".join(f"{loc} {pct(v['found'] / v['values'])}/{pct(v['kept'] / v['values'])}"
                        for loc, v in c["by_locale"].items())
        lines += ["", f"{kind} by locale (found/kept): {per}."]
    if envelopes:
        per = ", ".join(f"{loc} {pct(v['patterns'] / v['values'])}/{pct(v['scanner'] / v['values'])}"
                        for loc, v in envelopes["by_locale"].items())
        lines += ["", f"Whole addresses (Faker's `address()`: street, town, postal code; half on their lines, half "
                      f"joined by commas; {len(privacy_generated.ENVELOPE_FRAMES)} frames): one street-address span "
                      f"covers all of it, as redaction needs, in {pct(envelopes['patterns'])} of "
                      f"{envelopes['values']} from the patterns alone, {pct(envelopes['scanner'])} with the tagger. "
                      f"By locale (patterns/with the tagger): {per}."]
    return lines


def main() -> int:
    path = data_dir() / "pii" / "synth_dataset_v2.json"
    if not path.is_file():
        print(f"{path} does not exist: point EDGE_ROUTER_DATA at the shared data folder", file=sys.stderr)
        return 2
    policy = PrivacyPolicy()
    scanner = Scanner(policy, Embedder())
    rows = json.loads(path.read_text(encoding="utf-8"))
    card = json.loads((Path(__file__).resolve().parents[1] / "models/privacy/name_tagger.card.json").read_text())
    report = {"generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": environment.describe(), "phone_backend": phone_backend(), "types": list(policy.types),
              "tagger": {"bytes": card["bytes"], "sentences": card["training"]["sentences"],
                         "threshold": card["threshold"]},
              "presidio": presidio_scores(rows, scanner),
              "patterns_only_address": presidio_scores(rows, Scanner(PrivacyPolicy(tagger=False)))["STREET_ADDRESS"],
              "generated_values": privacy_generated.measure(scanner),
              "envelopes": privacy_generated.measure_envelopes(scanner),
              "false_alarms": false_alarms(scanner)}
    fuzz = RESULTS / "privacy_fuzz.json"
    if fuzz.is_file():
        report["fuzz"] = json.loads(fuzz.read_text(encoding="utf-8"))
    write_json(report, RESULTS / "privacy.json")
    (RESULTS / "privacy.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
