"""Preference labels from semantic entropy (Zhang et al., arXiv 2502.11021).

For each prompt: k samples from the weak (local) model and, when a strong
endpoint is given, from the strong (cloud) model; the semantic entropy of each;
then δ = |SE_strong − SE_weak| / max(SE_strong, SE_weak, ε). If δ > τ the model
with the lower entropy wins, otherwise it is a tie. Without a strong model the
strong SE is a fixed number (``strong_se``), and the row says so.

δ is the relative difference of the two entropies, not the absolute one: it lies
in [0, 1] whatever the entropy scale (k, count or likelihood entropy), so one τ
means "within τ of each other" everywhere, and two models that both always say
the same thing (SE 0 and 0) tie, which keeps the query on the device.

Both models get the same chat (a short-answer instruction for the prompt's kind,
then the question) and the same clusterer; each side's greedy answer is scored
against the gold answers, and every sample's token log-probabilities are kept, as are the on-device side's
greedy answer's per-token log-probabilities and entropies (the answer check's signals, kept while decoding).

With ``LabelConfig(by="gold")`` (``label --label-by gold``, the default for a prompt file) a prompt with gold
answers is labelled by correctness instead: weak when the local greedy answer is right (nothing to gain from the
cloud), strong when only the strong one is (or, no strong model sampled, when the local one is wrong), and by the
semantic entropies when both are wrong. Prompts without gold answers keep the SE label; each row says which
(``label_source``).

Rows are appended to a JSONL file one by one, so a run that stops resumes where
it left off; a prompt's split (train / calibration / test) comes from a hash of
its text and never changes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..backends.chat_model import ChatModel
from ..backends.local_llm import LocalLLM
from ..backends.token_stats import as_lists
from ..data import resumable
from ..data.datasets import Prompt, is_correct
from ..data.resumable import append_rows
from ..errors import CloudError, InvalidInputError, ModelNotFoundError
from ..privacy.policy import PrivacyPolicy
from ..privacy.redaction import Redaction, redact_messages
from ..privacy.scanner import Scanner
from ..uncertainty.clustering import Clusterer
from ..uncertainty.semantic_entropy import SHORT_ANSWER, semantic_entropy

log = logging.getLogger(__name__)

STRONG, TIE, WEAK = "strong", "tie", "weak"
LABEL_VALUE = {STRONG: 1.0, TIE: 0.5, WEAK: 0.0}
SPLITS = (("train", 70), ("calibration", 85), ("test", 100))


def preference(se_strong: float, se_weak: float, *, tau: float = 0.1, eps: float = 1e-9) -> tuple[str, float]:
    """The label and δ for one pair of semantic entropies."""
    if se_strong < 0 or se_weak < 0:
        raise InvalidInputError(f"semantic entropies are never negative (got {se_strong}, {se_weak}).")
    delta = abs(se_strong - se_weak) / max(se_strong, se_weak, eps)
    if delta <= tau:
        return TIE, delta
    return (STRONG if se_strong < se_weak else WEAK), delta


def relabel(rows: Sequence[dict], *, strong_se: float, tau: float, entropy: str = "se") -> list[dict]:
    """Rows labelled again against a fixed strong SE, from the weak side's ``se`` or ``se_likelihood``.

    Used when no strong model was sampled: a reference SE (for example the weak model's median) turns
    the weak model's own uncertainty into strong / tie / weak preferences.
    """
    if entropy not in ("se", "se_likelihood"):
        raise InvalidInputError(f"entropy must be 'se' or 'se_likelihood', not {entropy!r}.")
    out = []
    for row in rows:
        label, delta = preference(strong_se, row["weak"][entropy], tau=tau)
        out.append(dict(row, label=label, delta=delta, tau=tau,
                        strong={"model": None, "sampled": False, "se": strong_se, "entropy": entropy}))
    return out


def outcome_rows(records: Sequence[dict], *, strong_model: str, weak_model: str) -> list[dict]:
    """Label rows from two models' recorded 0/1 outcomes instead of sampled SE (RouteLLM-style labels, for a
    pair that cannot be sampled): strong when only the strong model scored, weak when only the weak one did,
    otherwise a tie. ``records`` as ``datasets.routerbench_outcomes`` gives them; rows say ``source: outcomes``."""
    rows = []
    for r in records:
        difference = r["strong"] - r["weak"]
        rows.append({
            "id": prompt_id(r["question"]), "dataset": r["dataset"], "index": r["sample_id"],
            "prompt": r["question"], "kind": "recorded", "split": split_of(r["question"]), "answers": [],
            "weak": {"model": weak_model, "sampled": False, "correct": r["weak"] >= 1.0},
            "strong": {"model": strong_model, "sampled": False, "correct": r["strong"] >= 1.0},
            "delta": difference, "label": STRONG if difference > 0 else WEAK if difference < 0 else TIE,
            "tau": None, "clusterer": None, "k": None, "source": "outcomes",
        })
    return rows


def prompt_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_of(text: str) -> str:
    """train (70 %), calibration (15 %) or test (15 %), from the prompt's hash."""
    bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


@dataclass(frozen=True)
class LabelConfig:
    k: int = 5
    temperature: float = 1.0
    max_tokens: int = 32
    tau: float = 0.1
    strong_se: float = 0.0
    privacy: str = "keep-local"  # prompts with personal data: never sent to the strong endpoint, or redacted
    by: str = "se"  # "gold": prompts with gold answers are labelled by the two sides' correctness
    seed: int | None = None  # each prompt's samples seeded from this and the prompt: any worker labels it alike

    def __post_init__(self):
        if self.by not in LABEL_SOURCES:
            raise InvalidInputError(f"labels come from {' or '.join(LABEL_SOURCES)}, not {self.by!r}.")


LABEL_SOURCES = ("se", "gold")


def gold_label(weak_correct: bool, strong_correct: bool | None) -> str | None:
    """The label correctness decides, or None when it decides nothing (both sides wrong: SE decides)."""
    if weak_correct:
        return WEAK
    if strong_correct is None or strong_correct:
        return STRONG
    return None


# Label prompts ask for short answers, so that k samples of 32 tokens say everything they mean and the
# exact-match clusterer compares them. The same instructions go to both models.
SHORT_ANSWER = {
    "qa": SHORT_ANSWER,
    "math": "Solve the problem. Reply with the final number only.",
    "choice": "Reply with the letter of the correct option only.",
}


def label_messages(prompt: Prompt) -> list[dict]:
    """The chat both models are asked: the kind's short-answer instruction, then the question."""
    system = SHORT_ANSWER.get(prompt.kind)
    user = {"role": "user", "content": prompt.question}
    return [{"role": "system", "content": system}, user] if system else [user]


def _greedy(model: ChatModel, messages: list[dict], max_tokens: int) -> tuple[str, dict]:
    """The greedy answer; a local model's also with each token's log-probability and entropy."""
    if not isinstance(model, LocalLLM):
        return model.chat(messages, max_tokens=max_tokens, temperature=0.0).text, {}
    completion = model.chat(messages, max_tokens=max_tokens, temperature=0.0, stats=True)
    logprobs, entropies = as_lists(completion.token_stats)
    return completion.text, {"greedy_logprobs": logprobs, "greedy_entropies": entropies}


class PrivatePrompt(Exception):
    """The prompt holds personal data and the labelling's privacy setting keeps it from the strong endpoint."""


@functools.lru_cache(maxsize=1)
def _scanner(policy: PrivacyPolicy) -> Scanner:
    return Scanner(policy)


def _strong_view(messages: list[dict], config: LabelConfig) -> tuple[list[dict], Redaction | None]:
    """What the strong endpoint may see of ``messages`` under ``config.privacy`` (the default entity types)."""
    if config.privacy == "off":
        return messages, None
    policy = PrivacyPolicy()
    spans = {i: [e for e in _scanner(policy).scan(m["content"]) if e.type in policy.types]
             for i, m in enumerate(messages)}
    if not any(spans.values()):
        return messages, None
    if config.privacy == "keep-local":
        raise PrivatePrompt
    redaction = Redaction()
    return redact_messages(messages, spans, redaction), redaction


def _side(model: ChatModel, messages: list[dict], prompt: Prompt, clusterer: Clusterer, config: LabelConfig,
          redaction: Redaction | None = None) -> dict:
    """One model's greedy answer (and whether it is right: a redacted side's answer is restored first) and the
    semantic entropy of its k samples."""
    t0 = time.perf_counter()
    greedy, greedy_stats = _greedy(model, messages, config.max_tokens)
    if redaction is not None:
        greedy = redaction.restore(greedy)
    t1 = time.perf_counter()
    se = semantic_entropy(model, messages, clusterer, k=config.k, temperature=config.temperature,
                          max_tokens=config.max_tokens)
    return {
        "model": model.id, "sampled": True, "greedy": greedy, **greedy_stats,
        "correct": is_correct(greedy, prompt) if prompt.answers else None,
        "samples": [s.text for s in se.samples], "mean_logprobs": [s.mean_logprob for s in se.samples],
        "token_logprobs": [[round(x, 4) for x in s.token_logprobs] for s in se.samples],
        "cluster_ids": list(se.cluster_ids), "se": se.entropy, "se_likelihood": se.likelihood_entropy,
        "greedy_ms": (t1 - t0) * 1e3, "sample_ms": se.sample_ms, "cluster_ms": se.cluster_ms,
    }


def label_prompt(prompt: Prompt, weak: ChatModel, strong: ChatModel | None, clusterer: Clusterer,
                 config: LabelConfig, others: Sequence[ChatModel] = ()) -> dict:
    """One JSONL row: both sides' greedy answers, samples (with the weak side's token log-probabilities),
    clusters and SEs; δ, the label, model ids and timings. ``others`` (more strong endpoints) are answered and
    sampled the same way, under ``others`` in the row: the label compares the device with ``strong`` only, and
    ``model_quality`` reads every side, for a router over many models."""
    messages = label_messages(prompt)
    if config.seed is not None:
        for model in (weak, strong, *others):
            if hasattr(model, "reseed"):
                model.reseed(int(prompt_id(f"{config.seed}:{prompt.question}"), 16))
    strong_messages, redaction = _strong_view(messages, config) if strong is not None else (messages, None)
    weak_row = _side(weak, messages, prompt, clusterer, config)
    if strong is not None:
        strong_row = _side(strong, strong_messages, prompt, clusterer, config, redaction)
    else:
        strong_row = {"model": None, "sampled": False, "se": config.strong_se}
    other_rows = [_side(o, strong_messages, prompt, clusterer, config, redaction) for o in others]
    label, delta = preference(strong_row["se"], weak_row["se"], tau=config.tau)
    source = "se"
    if config.by == "gold" and weak_row["correct"] is not None:
        decided = gold_label(weak_row["correct"], strong_row.get("correct"))
        label, source = (decided, "gold") if decided is not None else (label, "se (both answers wrong)")
    return {
        "id": prompt_id(prompt.question), "dataset": prompt.dataset, "index": prompt.index,
        "prompt": prompt.question, "kind": prompt.kind, "split": split_of(prompt.question),
        "answers": list(prompt.answers), "weak": weak_row, "strong": strong_row, "delta": delta, "label": label,
        "label_source": source, "tau": config.tau, "clusterer": clusterer.name, "k": config.k,
        **({"others": other_rows} if other_rows else {}),
    }


def model_quality(rows: Sequence[dict]) -> tuple[list[str], tuple[str, ...], np.ndarray]:
    """(prompts, model ids, quality (prompts, models)) from label rows with several sampled sides: a side's greedy
    correctness where the prompt has gold answers, else how sure its samples were, 1 − SE / ln k (k samples in
    k meanings give 0). Rows missing a side are left out."""
    sides = lambda r: [r["weak"], r["strong"], *r.get("others", [])]  # noqa: E731
    models = tuple(side["model"] for side in sides(rows[0])) if rows else ()
    prompts, quality = [], []
    for r in rows:
        row_sides = sides(r)
        if tuple(side.get("model") for side in row_sides) != models or not all(s.get("sampled") for s in row_sides):
            continue
        k = max(r.get("k") or 1, 2)
        prompts.append(r["prompt"])
        quality.append([float(s["correct"]) if s.get("correct") is not None else
                        max(0.0, 1.0 - s["se"] / math.log(k)) for s in row_sides])
    return prompts, models, np.array(quality, np.float32).reshape(len(prompts), len(models))


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a label file, plain or .gz (a half-written last line from an interrupted run is skipped)."""
    if not Path(path).is_file():
        raise ModelNotFoundError(f"Label file {path} does not exist; create it with `edge-router label --out {path}`.")
    return resumable.read_rows(path)


def labelling_order(prompts: Sequence[Prompt], block: int) -> list[Prompt]:
    """``prompts`` in the order of their hash, each run of ``block`` sorted by kind: a run stopped early has
    covered every source in proportion, and consecutive prompts mostly share their system prompt, whose tokens
    both models then keep in their prompt cache instead of prefilling them again (``block=1``: hash order)."""
    ordered = sorted(prompts, key=lambda p: prompt_id(p.question))
    return [p for start in range(0, len(ordered), block)
            for p in sorted(ordered[start:start + block], key=lambda p: p.kind)]


PRIVATE = "private"


def label_or_why(prompt: Prompt, weak: ChatModel, strong: ChatModel | None, clusterer: Clusterer,
                 config: LabelConfig, others: Sequence[ChatModel] = ()) -> tuple[dict | None, str | None]:
    """(``label_prompt``'s row, None), or (None, why) for a prompt left unlabelled: ``PRIVATE`` (personal data the
    strong endpoint may not see) or the strong side's failure (left for the next run)."""
    try:
        return label_prompt(prompt, weak, strong, clusterer, config, others), None
    except CloudError as exc:  # one slow or failed strong answer must not end a run of hours
        log.warning("strong model failed on prompt %s (%s); left for the next run", prompt_id(prompt.question), exc)
        return None, f"cloud: {exc}"
    except PrivatePrompt:
        log.info("prompt %s holds personal data: not sent to the strong endpoint, not labelled",
                 prompt_id(prompt.question))
        return None, PRIVATE


def pending(prompts: Sequence[Prompt], out_path: str | Path, block: int) -> tuple[list[Prompt], set[str]]:
    """(the prompts not yet in ``out_path``, once each, in ``labelling_order``; the ids already there)."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = {row["id"] for row in read_rows(out_path)} if out_path.exists() else set()
    return labelling_order([p for p in _unique(prompts) if prompt_id(p.question) not in done], block), done


def label_prompts(prompts: Sequence[Prompt], out_path: str | Path, *, weak: ChatModel, strong: ChatModel | None,
                  clusterer: Clusterer, config: LabelConfig, progress: bool = True, block: int = 64,
                  others: Sequence[ChatModel] = ()) -> dict:
    """Label ``prompts`` into ``out_path`` in ``labelling_order``, skipping those already there. Returns a
    summary."""
    todo, done = pending(prompts, out_path, block)
    skipped: list[str] = []
    private: list[str] = []

    def row(prompt: Prompt) -> dict | None:
        made, why = label_or_why(prompt, weak, strong, clusterer, config, others)
        if why is not None:
            (private if why == PRIVATE else skipped).append(prompt_id(prompt.question))
        return made

    elapsed = append_rows(out_path, todo, row, label="labelling", unit="prompts", progress=progress)
    labelled = len(todo) - len(skipped) - len(private)
    return {"labelled": labelled, "skipped": len(skipped), "private": len(private), "already_done": len(done),
            "seconds": elapsed,
            "prompts_per_minute": labelled / elapsed * 60 if labelled and elapsed > 0 else 0.0,
            "strong_sampled": strong is not None, "config": asdict(config)}


def _unique(prompts: Iterable[Prompt]) -> list[Prompt]:
    seen, out = set(), []
    for p in prompts:
        key = prompt_id(p.question)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
