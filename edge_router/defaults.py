"""Every default and choice list, written once: the CLI, ``EdgeRouter.from_defaults`` and the server read
them from here."""

from __future__ import annotations

from typing import Literal, get_args

from .errors import InvalidInputError

Route = Literal["local", "cloud"]
Mode = Literal["router", "gate", "router+gate"]
ROUTES: tuple[str, ...] = get_args(Route)
MODES: tuple[str, ...] = get_args(Mode)

CLOUD_SHARE = 0.3
"""Share of queries sent to the cloud when neither a threshold nor a cloud share is given: the router's threshold
calibrated for it (chosen in benchmarks/results/default_share.md). The SDK, the CLI, serve and the demo all use it."""
THRESHOLD = 0.5
"""Router score at which a query goes to the cloud for a router without a calibration table."""
ROUTING_TURNS = 1
"""User turns the router reads, newest first (chosen in benchmarks/results/conversations.md)."""
FOLLOW_UP_MARGIN = 0.15
"""A follow-up stays on the route of the turn it follows unless the deciding score is this far from the threshold."""
SHADOW_BUDGET_USD = 1.0
"""The most a UTC day's shadow calls (local answers asked of the cloud again, for labels) may cost."""
MAX_TOKENS = 512
"""Answer length limit: 256 cut 68 % of the local model's answers to coding tasks, 512 cut 2 %
(benchmarks/results/generation_settings.md)."""
REPEAT_PENALTY = 1.1
"""llama.cpp's repetition penalty for local answers (1 is none): 1.1 ended every looping answer that 1.0 gave,
at the same accuracy within the interval; 1.2 lost accuracy (benchmarks/results/generation_settings.md)."""
N_CTX = 2048
"""The local model's context window."""
GATE_THRESHOLD = 1.194
"""Semantic entropy (nats) above which the uncertainty gate offloads: with k = 5, splits 5, 4-1, 3-2, 3-1-1 and
2-2-1 stay, 2-1-1-1 and five different answers go out (chosen in benchmarks/results/gate_calibration.md)."""
GATE_K = 5
"""Samples the uncertainty gate draws."""
GATE_MAX_TOKENS = 16
"""Tokens per gate sample (16 flagged wrong answers as well as 32, at two thirds of the decoding)."""
CLOUD_DEADLINE_S = 20.0
"""Seconds a whole cloud answer may take, all retries included, before the local model answers instead."""
CLOUD_FIRST_BYTE_S = 5.0
"""Seconds until a cloud stream's first byte, all retries included."""
BREAKER_FAILURES = 3
"""Consecutive cloud failures after which the cloud is skipped for a cool-down (the circuit breaker)."""
BREAKER_COOL_DOWN_S = 30.0
"""Seconds the cloud is skipped after the breaker opens; then one call tries it again."""
CHECK_SHARE = 0.3
"""Share of the probe's calibration answers at whose threshold the answer check offloads a local answer."""
WRONG_ANSWER_USD = 0.01
"""The price of a worse answer (the local one wrong where the cloud's would be right), for offloading by cost."""
DEVICE_SECOND_USD = 0.0001
"""The price of a second of the device's compute (battery, heat, other work), for offloading by cost."""
WAIT_SECOND_USD = 0.0005
"""The price of a second the user waits for an answer (1.80 USD an hour), for offloading by cost."""
CLUSTERERS = ("exact", "embedding", "nli", "nli-embedding")
CLUSTERER = "exact"
"""How samples are clustered, for the gate and for labels (chosen in benchmarks/results/se_backends.md)."""
TRAINING_SETS = ("nq-open", "triviaqa", "mawps", "mmlu-aux", "arc-challenge", "winogrande")
"""The built-in sets routers are trained on; none holds an evaluation (GSM8K, MMLU test, MT-Bench) prompt."""
EVAL_PAIRS = ("gpt4-mixtral", "local-gpt4", "on-device")
"""Model pairs the evaluation knows (edge_router.data.eval_data)."""


def check_cloud_share(value: object) -> float:
    """``value`` as a share of queries for the cloud, strictly between 0 and 1, or a clear error."""
    try:
        share = float("nan") if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        share = float("nan")
    if not 0.0 < share < 1.0:
        raise InvalidInputError(f"cloud_share is a share of queries strictly between 0 and 1 (for example 0.3), "
                                f"not {value!r}.")
    return share


def check_route(value: object, what: str = "force") -> str | None:
    """``value`` as a route ('local' or 'cloud') or None, or a clear error."""
    if value is not None and value not in ROUTES:
        raise InvalidInputError(f"{what} must be 'local' or 'cloud', not {value!r}.")
    return value  # type: ignore[return-value]
