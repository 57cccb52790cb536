"""Value types shared by the local and the cloud model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.prompt_tokens * self.input_per_million
            + usage.completion_tokens * self.output_per_million
        ) / 1e6


@dataclass(frozen=True)
class Completion:
    """One answer: its text, why it ended, what it used and cost (None when unknown)."""

    text: str
    finish_reason: str
    model: str
    usage: Usage | None = None
    cost_usd: float | None = None


@dataclass(frozen=True)
class Sample:
    """One sampled answer with the log-probability of each of its tokens."""

    text: str
    token_logprobs: tuple[float, ...]

    @property
    def mean_logprob(self) -> float:
        """Length-normalised log-likelihood (0.0 for an empty answer)."""
        return sum(self.token_logprobs) / len(self.token_logprobs) if self.token_logprobs else 0.0
