"""The local model's answer settings, chosen by measurement: repetition penalty and answer length.

The default on-device model answers the same prompts greedily at each ``--penalties`` value (llama.cpp's
repetition penalty over the last 64 tokens; 1 is none), asked as the SDK asks (the user's text alone, no
system prompt), up to 512 tokens: ``--per-set`` (50) prompts each of MAWPS (arithmetic,
scored by the last number), TriviaQA (facts, scored by alias) and MBPP's train tasks (code, not scored:
length and repetition only). All three are training sources, none an evaluation question. Each answer also
records where its first 256 tokens end, so the page shows the default length limit (256) beside 512: share of
answers that loop (``edge_router.evaluation.repetition``), share cut by the limit, accuracy, median tokens.
Rows are appended to a work file in the cache, prompt by prompt, every setting in turn; rerun to resume.
About 45 minutes on two cores; run on a quiet machine:

    python benchmarks/generation_settings.py [--per-set 50] [--penalties 1.0 1.1 1.2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from edge_router import LocalLLM, defaults
from edge_router.bench import environment
from edge_router.data import datasets
from edge_router.data.local_outcomes import row_key
from edge_router.data.resumable import append_rows, read_rows
from edge_router.evaluation.repetition import loops, repeated_share
from edge_router.metrics import wilson
from edge_router.settings import cache_dir

RESULTS = Path(__file__).resolve().parent / "results"
LIMITS = (256, 512)


def prompts(per_set: int) -> list[datasets.Prompt]:
    """``per_set`` prompts of each set, interleaved so that a stopped run covers all three."""
    sets = [datasets.load("mawps", limit=per_set), datasets.load("triviaqa", limit=per_set),
            datasets.coding_tasks(limit=per_set)]
    return [p for group in zip(*sets) for p in group]


def answer(llm: LocalLLM, prompt: datasets.Prompt, penalty: float, max_tokens: int) -> dict:
    """One greedy answer at ``penalty``, with the character length of its text after each limit's tokens
    (counted in streamed pieces: one per token, except where a character spans tokens)."""
    llm.repeat_penalty = penalty
    stream = llm.stream(prompt.question, max_tokens=max_tokens)
    text, ends = "", {}
    started = time.perf_counter()
    for n, piece in enumerate(stream, 1):
        text += piece
        ends.update({str(limit): len(text) for limit in LIMITS if n == limit})
    seconds = time.perf_counter() - started
    completion = stream.completion
    return {"penalty": penalty, "dataset": prompt.dataset, "index": prompt.index, "text": completion.text,
            "finish_reason": completion.finish_reason, "tokens": completion.usage.completion_tokens,
            "seconds": round(seconds, 3), "ends": ends}


def at_limit(row: dict, limit: int) -> tuple[str, str]:
    """The answer and its finish reason had the length limit been ``limit``."""
    if row["tokens"] < limit or (row["tokens"] == limit and row["finish_reason"] == "stop"):
        return row["text"], row["finish_reason"]
    return row["text"][:row["ends"].get(str(limit), len(row["text"]))].strip(), "length"


def summarize(rows: list[dict], by_key: dict[str, datasets.Prompt]) -> list[dict]:
    """Per setting, set and length limit: loops, cut, accuracy (with 95 % intervals), tokens, speed."""
    table = []
    for penalty in sorted({r["penalty"] for r in rows}):
        for dataset in ("mawps", "triviaqa", "mbpp"):
            mine = [r for r in rows if r["penalty"] == penalty and r["dataset"] == dataset]
            if not mine:
                continue
            for limit in LIMITS:
                answers = [at_limit(r, limit) for r in mine]
                n = len(answers)
                looped = sum(loops(text, finish) for text, finish in answers)
                cut = sum(finish == "length" for _, finish in answers)
                entry = {"penalty": penalty, "dataset": dataset, "limit": limit, "n": n, "loops": looped,
                         "cut": cut, "repeated_4grams": statistics.fmean(repeated_share(t) for t, _ in answers),
                         "median_tokens": statistics.median(min(r["tokens"], limit) for r in mine)}
                if dataset != "mbpp":
                    right = sum(datasets.is_correct(text, by_key[row_key(r["dataset"], r["index"])])
                                for r, (text, _) in zip(mine, answers))
                    entry.update(correct=right, interval=wilson(right, n))
                if limit == max(LIMITS):
                    entry["tok_per_s"] = sum(r["tokens"] for r in mine) / sum(r["seconds"] for r in mine)
                table.append(entry)
    return table


def markdown(table: list[dict], env: dict, args: argparse.Namespace, model: str) -> str:
    def pct(k, n):
        return f"{k}/{n} ({100 * k / n:.0f} %)"

    lines = [
        "# Local generation settings: repetition penalty and answer length",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores, {args.threads} threads; llama-cpp-python "
        f"{env['libraries'].get('llama-cpp-python')}; commit {env.get('commit')}. Model: `{model}`, greedy, asked "
        "as the SDK asks (the user's text alone). The same prompts at every setting: MAWPS and TriviaQA (scored), "
        "MBPP train tasks (code; not scored). *Loops*: cut by the limit while the last third repeats earlier "
        "4-grams (≥ 60 %). *Cut*: stopped by the limit. Accuracy at 256 scores the answer's first 256 tokens.",
        "",
        "| penalty | set | limit | n | loops | cut | repeated 4-grams | accuracy (95 % CI) | median tokens | tok/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in table:
        accuracy = (f"{pct(e['correct'], e['n'])} ({100 * e['interval'][0]:.0f}–{100 * e['interval'][1]:.0f})"
                    if "correct" in e else "—")
        speed = f"{e['tok_per_s']:.1f}" if "tok_per_s" in e else ""
        lines.append(f"| {e['penalty']:g} | {e['dataset']} | {e['limit']} | {e['n']} | {pct(e['loops'], e['n'])} | "
                     f"{pct(e['cut'], e['n'])} | {e['repeated_4grams']:.3f} | {accuracy} | "
                     f"{e['median_tokens']:.0f} | {speed} |")
    lines += ["", "Per penalty and limit: answers that loop (all three sets), MAWPS accuracy, coding answers cut.",
              "", "| penalty | limit | loops | MAWPS right | code answers cut |", "|---|---|---|---|---|"]
    for penalty in sorted({e["penalty"] for e in table}):
        for limit in LIMITS:
            cell = {e["dataset"]: e for e in table if e["penalty"] == penalty and e["limit"] == limit}
            loops_all = sum(e["loops"] for e in cell.values())
            n_all = sum(e["n"] for e in cell.values())
            lines.append(f"| {penalty:g} | {limit} | {pct(loops_all, n_all)} | "
                         f"{pct(cell['mawps']['correct'], cell['mawps']['n'])} | "
                         f"{pct(cell['mbpp']['cut'], cell['mbpp']['n'])} |")
    lines += ["", f"Defaults (`edge_router/defaults.py`): repetition penalty {defaults.REPEAT_PENALTY:g}, answer limit "
              f"{defaults.MAX_TOKENS} tokens."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-set", type=int, default=50, help="prompts from each of the three sets (default 50)")
    parser.add_argument("--penalties", type=float, nargs="+", default=[1.0, 1.1, 1.2],
                        help="repetition penalties to compare (default 1.0 1.1 1.2)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    chosen = prompts(args.per_set)
    by_key = {row_key(p.dataset, p.index): p for p in chosen}
    llm = LocalLLM(threads=args.threads)
    work = cache_dir() / "bench" / f"generation_settings.{llm.id}.jsonl"
    work.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["penalty"], row_key(r["dataset"], r["index"])) for r in read_rows(work)}
    jobs = [(p, penalty) for p in chosen for penalty in args.penalties
            if (penalty, row_key(p.dataset, p.index)) not in done]
    append_rows(work, jobs, lambda job: answer(llm, job[0], job[1], max(LIMITS)), label="answering",
                unit="answers", progress=True)
    rows = [r for r in read_rows(work)
            if r["penalty"] in args.penalties and row_key(r["dataset"], r["index"]) in by_key]
    table = summarize(rows, by_key)
    env = environment.describe()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "generation_settings.json").write_text(
        json.dumps({"environment": env, "model": llm.id, "table": table}, indent=1) + "\n", encoding="utf-8")
    text = markdown(table, env, args, llm.id)
    (RESULTS / "generation_settings.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
