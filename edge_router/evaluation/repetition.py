"""Whether a generated answer loops: the same phrase again and again until the length limit.

Measured on words (whitespace-split), so the tokenizer does not matter. An answer ``loops`` when it was cut
by the length limit and most word n-grams of its last third already occurred earlier in it; a legitimate
long answer (a list, code with tests) repeats some n-grams, a loop repeats almost all of them.
"""

from __future__ import annotations

N = 4
"""Words per n-gram."""
LOOP_SHARE = 0.6
"""Share of the last third's n-grams seen before, from which a cut answer counts as a loop."""


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def repeated_share(text: str, *, n: int = N, tail: float = 1.0) -> float:
    """Share of the word n-grams in the last ``tail`` of ``text`` that already occurred earlier in it (0 when it
    has none)."""
    grams = _ngrams(text.split(), n)
    start = len(grams) - int(len(grams) * tail)
    seen = set(grams[:start])
    repeated = 0
    for gram in grams[start:]:
        repeated += gram in seen
        seen.add(gram)
    return repeated / max(len(grams) - start, 1)


def loops(text: str, finish_reason: str) -> bool:
    """True when the answer hit the length limit while repeating itself (see the module docstring)."""
    return finish_reason == "length" and repeated_share(text, tail=1 / 3) >= LOOP_SHARE
