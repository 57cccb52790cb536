"""Value types shared by the local and the cloud model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError

if TYPE_CHECKING:  # token_stats imports numpy, which this module's users must not pay for
    from .token_stats import TokenStats


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
    """One answer: its text, why it ended, what it used and cost (None when unknown); ``token_stats`` holds its
    first tokens' log-probabilities and entropies where the call asked for them (``LocalLLM.answer_many``,
    ``chat`` and ``stream`` with ``stats``); ``attempts`` the endpoints a cloud chain tried (``CloudChain``)."""

    text: str
    finish_reason: str
    model: str
    usage: Usage | None = None
    cost_usd: float | None = None
    token_stats: tuple[TokenStats, ...] = ()
    attempts: tuple[dict, ...] = ()  # the cloud endpoints tried, in order, when several are configured


@dataclass(frozen=True)
class Sample:
    """One sampled answer with the log-probability of each of its tokens."""

    text: str
    token_logprobs: tuple[float, ...]

    @property
    def mean_logprob(self) -> float:
        """Length-normalised log-likelihood (0.0 for an empty answer)."""
        return sum(self.token_logprobs) / len(self.token_logprobs) if self.token_logprobs else 0.0


@dataclass(frozen=True)
class Sampling:
    """How an answer is sampled, on either route (None: the model's default, greedy on the device).

    ``stop`` ends the answer before the first of its strings; ``seed`` makes a sampled answer repeatable.
    ``response_format`` (OpenAI's: ``{"type": "json_object"}`` or ``{"type": "json_schema", "json_schema":
    {"schema": {...}}}``) makes the device's answer valid JSON (or JSON of that schema) with a llama.cpp grammar;
    the cloud gets it as it is. ``cloud_fields`` are other request fields, sent to the cloud as they are (the
    device ignores them).
    """

    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: dict[str, Any] | None = None
    cloud_fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = (
            ("temperature", self.temperature, 0.0, 2.0), ("top_p", self.top_p, 0.0, 1.0),
            ("presence_penalty", self.presence_penalty, -2.0, 2.0),
            ("frequency_penalty", self.frequency_penalty, -2.0, 2.0),
        )
        for name, value, low, high in checks:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not low <= value <= high or (name == "top_p" and value == 0)):
                raise InvalidInputError(f"{name} must be a number in [{low:g}, {high:g}]"
                                        f"{' (above 0)' if name == 'top_p' else ''}, not {value!r}.")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise InvalidInputError(f"seed must be an integer, not {self.seed!r}.")
        stop = (self.stop,) if isinstance(self.stop, str) else self.stop
        stop = tuple(stop) if isinstance(stop, (list, tuple)) else (None,)
        if len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
            raise InvalidInputError("stop must be a non-empty string or a list of at most 4 of them.")
        object.__setattr__(self, "stop", stop)
        kind = self.response_format.get("type") if isinstance(self.response_format, dict) else None
        if self.response_format is not None and kind not in ("text", "json_object", "json_schema"):
            raise InvalidInputError("response_format must be {'type': 'text'}, {'type': 'json_object'} or "
                                    f"{{'type': 'json_schema', 'json_schema': {{'schema': {{...}}}}}}, not "
                                    f"{self.response_format!r}.")
        if kind == "json_schema" and not isinstance((self.response_format.get("json_schema") or {}).get("schema"),
                                                    dict):
            raise InvalidInputError("a json_schema response_format needs json_schema.schema, a JSON schema object.")

    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema the answer must follow ({} for any JSON object), or None for free text."""
        kind = (self.response_format or {}).get("type")
        if kind == "json_object":
            return {}
        return self.response_format["json_schema"]["schema"] if kind == "json_schema" else None

    def request_fields(self) -> dict[str, Any]:
        """The OpenAI request fields these settings make (only those set)."""
        fields = {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed,
                  "stop": list(self.stop) or None, "presence_penalty": self.presence_penalty,
                  "frequency_penalty": self.frequency_penalty, "response_format": self.response_format}
        return {**self.cloud_fields, **{k: v for k, v in fields.items() if v is not None}}
