"""``RouterSettings``: every option of the decision and the local model, declared once.

``EdgeRouter.from_defaults``, the command line (``ask``, ``route``, ``serve``: their options are generated from
the fields here) and the server all read this one frozen model. Each field's metadata gives its flag, help and
parser; ``__post_init__`` refuses values and combinations that cannot work, before any model loads. A TOML
settings file (``--config PATH`` or ``RouterSettings.from_toml``) and the environment
(``EDGE_ROUTER_CLOUD_PRICES``, ``EDGE_ROUTER_TRACE``) map onto the same fields.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from . import defaults, settings
from .errors import ConfigurationError


def positive_int(text: str) -> int:
    value = int(text) if text.strip().lstrip("-").isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text) if text.strip().lstrip("-").isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _prices(text: str) -> tuple[float, float]:
    try:
        return settings.parse_prices(text, "--prices")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _option(flag: str, help: str, *, default: Any = None, type: Callable | None = None, group: str = "decision",
            **argparse_kwargs: Any) -> Any:
    """A settings field with the command-line flag, help and parser it is exposed with."""
    return field(default=default, metadata={"flag": flag, "help": help, "type": type, "group": group,
                                            "argparse": argparse_kwargs})


@dataclass(frozen=True, kw_only=True)
class RouterSettings:
    """What ``EdgeRouter.from_defaults`` builds. Every field is optional; ``None`` means "the default"."""

    mode: str | None = _option("--mode", "decide by the trained router, the uncertainty gate, or both (default: "
                               "the router when one is given or ships, else the gate)", choices=defaults.MODES)
    router_path: str | None = _option("--router", "a trained router file (default: models/routers/default.onnx "
                                      "when the package ships one)", metavar="PATH")
    threshold: float | None = _option("--threshold", "router score at which to offload (default: the router's "
                                      "threshold for --cloud-share; router modes only)", type=_float)
    cloud_share: float | None = _option("--cloud-share", f"offload this share of queries like the router's "
                                        f"calibration ones (default {defaults.CLOUD_SHARE:g}, chosen in "
                                        "benchmarks/results/default_share.md)", type=_float)
    quality_target: float | None = _option("--quality-target", "instead of a cloud share: offload the fewest queries "
                                           "that send the cloud this share (0-1] of those only it answers right, as "
                                           "the prefill probe's calibration rows measured", type=_float, metavar="Q")
    budget_window: int | None = _option("--budget-window", "keep --cloud-share over the last N decisions (an online "
                                        "budget)", type=positive_int, metavar="N")
    routing_turns: int = _option("--routing-turns", "user turns the router reads, newest first (default "
                                 f"{defaults.ROUTING_TURNS}: benchmarks/results/conversations.md)",
                                 default=defaults.ROUTING_TURNS, type=positive_int, metavar="N")
    follow_up_margin: float = _option("--follow-up-margin", "a follow-up of a turn this router answered stays on that "
                                      "turn's route unless the score is this far from the threshold (default "
                                      f"{defaults.FOLLOW_UP_MARGIN:g}; 0: every turn decided afresh)",
                                      default=defaults.FOLLOW_UP_MARGIN, type=_float)
    store: str | None = _option("--store", "keep every answered decision in this SQLite file, for feedback and "
                                "learn ('default': the platform's user data folder; default: no store)",
                                metavar="PATH")
    store_prompts: bool = _option("--store-prompts", "keep the prompt text in the store too (never for a prompt the "
                                  "privacy stage flagged)", default=False, action="store_true")
    shadow_share: float = _option("--shadow-share", "ask the cloud again, in the background, for this share of the "
                                  "device's answers and store whether they agree, as labels for learn (needs --store "
                                  "and the cloud's prices; default 0: off)", default=0.0, type=_float)
    shadow_budget_usd: float = _option("--shadow-budget", "the most a day's shadow calls may cost, USD (default "
                                       f"{defaults.SHADOW_BUDGET_USD:g})", default=defaults.SHADOW_BUDGET_USD,
                                       type=_float)
    prefill_probe: bool | None = _option("--prefill-probe", "read the local model's own state at the end of the "
                                         "prompt and combine the shipped probe with the shipped router (default: on "
                                         "where both ship for the local model and a cloud is set; a route that no "
                                         "answer follows may pay a prefill; --no-prefill-probe: the router alone)",
                                         action=argparse.BooleanOptionalAction)
    offload_by_cost: bool = _option("--offload-by-cost", "with the prefill probe: offload where the cloud is the "
                                    "cheaper route, weighing its token prices (--prices) against a worse answer, "
                                    "device seconds and waiting (measured online), instead of a set cloud share",
                                    default=False, action="store_true")
    price_wrong_answer: float = _option("--price-wrong-answer", "USD a worse answer costs, for the prefill probe's "
                                        f"cascade (default {defaults.WRONG_ANSWER_USD:g})",
                                        default=defaults.WRONG_ANSWER_USD, type=_float)
    price_device_second: float = _option("--price-device-second", "USD a second of device compute costs (default "
                                         f"{defaults.DEVICE_SECOND_USD:g})", default=defaults.DEVICE_SECOND_USD,
                                         type=_float)
    price_wait_second: float = _option("--price-wait-second", "USD a second of the user's waiting costs (default "
                                       f"{defaults.WAIT_SECOND_USD:g})", default=defaults.WAIT_SECOND_USD,
                                       type=_float)
    privacy: str = _option("--privacy", "what a query holding personal data or secrets may do: keep-local (answered "
                           "on the device, never sent), redact (sent with placeholders, restored in the answer) or "
                           "off (default keep-local)", default="keep-local", choices=("keep-local", "redact", "off"))
    privacy_triggers: tuple[str, ...] | None = _option(
        "--privacy-triggers", "entity types or groups that set the privacy policy off (default: contact payment "
        "national-id network secret address; add name for people's and organisations' names)", nargs="+",
        metavar="TYPE")
    privacy_patterns_only: bool = _option("--privacy-patterns-only", "find personal data by patterns only: no name "
                                          "tagger (people's and organisations' names are then not found, street "
                                          "addresses by pattern alone)", default=False, action="store_true")
    privacy_rules: tuple[dict, ...] = _option("--privacy-rules", "app rules (settings file only: a list of tables with "
                                              "name, action and pattern, keywords or examples)", default=(),
                                              group="file")
    gate_threshold: float = _option("--gate-threshold", "semantic entropy (nats) above which the gate offloads "
                                    f"(default {defaults.GATE_THRESHOLD:g})", default=defaults.GATE_THRESHOLD,
                                    type=_float)
    gate_k: int = _option("--gate-k", f"samples the gate draws (default {defaults.GATE_K})", default=defaults.GATE_K,
                          type=positive_int)
    gate_clusterer: str = _option("--gate-clusterer", f"how the gate clusters samples (default {defaults.CLUSTERER}: "
                                  "see benchmarks/results/se_backends.md)", default=defaults.CLUSTERER,
                                  choices=defaults.CLUSTERERS)
    max_tokens: int = _option("--max-tokens", f"answer length limit (default {defaults.MAX_TOKENS})",
                              default=defaults.MAX_TOKENS, type=positive_int)
    clouds: tuple[dict, ...] = _option("--clouds", "cloud endpoints in fallback order, used instead of the "
                                       f"{settings.CLOUD_BASE_URL_ENV} one (settings file only: a list of tables with "
                                       "name, base_url, model and optionally api_key_env, prices = [IN, OUT], "
                                       "deadline_s, first_byte_s)", default=(), group="file")
    cloud_prices: tuple[float, float] | None = _option(
        "--prices", f"the cloud's USD per million input and output tokens, for cost reports (default: "
        f"{settings.CLOUD_PRICES_ENV}, else unknown)", type=_prices, group="cloud",
        metavar="IN,OUT")
    cloud_deadline_s: float = _option("--cloud-deadline", "a whole cloud answer, retries included, before the local "
                                      f"model answers instead (default {defaults.CLOUD_DEADLINE_S:g})",
                                      default=defaults.CLOUD_DEADLINE_S, type=_float, group="cloud",
                                      metavar="SECONDS")
    cloud_first_byte_s: float = _option("--cloud-first-byte", "until a cloud stream's first byte (default "
                                        f"{defaults.CLOUD_FIRST_BYTE_S:g})", default=defaults.CLOUD_FIRST_BYTE_S,
                                        type=_float, group="cloud", metavar="SECONDS")
    breaker_failures: int = _option("--breaker-failures", "consecutive cloud failures that open the circuit breaker "
                                    f"(default {defaults.BREAKER_FAILURES})", default=defaults.BREAKER_FAILURES,
                                    type=positive_int, group="cloud")
    breaker_cool_down_s: float = _option("--breaker-cool-down", "seconds the cloud is then skipped (default "
                                         f"{defaults.BREAKER_COOL_DOWN_S:g})", default=defaults.BREAKER_COOL_DOWN_S,
                                         type=_float, group="cloud")
    check: bool = _option("--check", "the answer check: hold the local answer's first tokens back and send the query "
                          "to the cloud when they look unsure (needs a cloud)", default=False, group="answer",
                          action="store_true")
    check_share: float | None = _option("--check-share", "offload at the probe's threshold for this share of its "
                                        f"calibration answers (default {defaults.CHECK_SHARE:g})", type=_float,
                                        group="answer", metavar="SHARE")
    check_threshold: float | None = _option("--check-threshold", "offload when P(local answer wrong) reaches this "
                                            "instead", type=_float, group="answer", metavar="P")
    probe_path: str | None = _option("--probe", "an answer-check probe file (default: models/probes/"
                                     "answer_check.json)", group="answer", metavar="PATH")
    local_model: str | None = _option("--local-model", "the local model: a registry name or a GGUF file (default: "
                                      "the registry's local model)", group="local", metavar="NAME_OR_PATH")
    threads: int | None = _option("--threads", "threads for the local model (default: all CPUs)", type=positive_int,
                                  group="local")
    n_ctx: int = _option("--n-ctx", f"the local model's context window in tokens (default {defaults.N_CTX})",
                         default=defaults.N_CTX, type=positive_int, group="local")
    n_gpu_layers: int = _option("--n-gpu-layers", "layers of the local model offloaded to a GPU (needs a CUDA or "
                                "Metal build of llama-cpp-python; default 0, all on the CPU; -1 is not accepted: "
                                "give the number)", default=0, type=_non_negative_int, group="local")
    repeat_penalty: float = _option("--repeat-penalty", "the local model's repetition penalty, 1 for none (default "
                                    f"{defaults.REPEAT_PENALTY:g}; benchmarks/results/generation_settings.md)",
                                    default=defaults.REPEAT_PENALTY, type=_float, group="local")
    embedder_name: str | None = _option("--embedder", "a registered embedder (see `edge-router models list`; "
                                        "default: the one the router names, else the registry's)", group="local",
                                        metavar="NAME")
    trace_path: str | None = _option("--trace", f"append every decision to this JSONL file (default: "
                                     f"{settings.TRACE_ENV}, else none)", group="local",
                                     metavar="PATH")

    def __post_init__(self) -> None:
        _check(self)

    def privacy_policy(self):
        """The ``PrivacyPolicy`` these settings describe."""
        from .privacy.policy import DEFAULT_TRIGGERS, PrivacyPolicy, Rule

        rules = tuple(r if isinstance(r, Rule) else Rule(**r) for r in self.privacy_rules)
        return PrivacyPolicy(mode=self.privacy, triggers=tuple(self.privacy_triggers or DEFAULT_TRIGGERS),
                             rules=rules, tagger=not self.privacy_patterns_only)

    def cloud_endpoints(self) -> list:
        """A ``CloudLLM`` for each of ``clouds``, in order (each one's key from the variable its api_key_env names)."""
        from .backends.cloud_llm import CloudLLM, Prices

        out = []
        for c in self.clouds:
            key = os.environ.get(c["api_key_env"]) if c.get("api_key_env") else None
            if c.get("api_key_env") and not key:
                raise ConfigurationError(f"clouds: endpoint {c['name']!r} takes its key from {c['api_key_env']}, "
                                         "which is not set; set it, or drop api_key_env for an endpoint without one.")
            out.append(CloudLLM(base_url=c["base_url"], model=c["model"], name=c["name"], api_key=key,
                                prices=Prices(*c["prices"]) if c.get("prices") else self.prices(),
                                deadline_s=c.get("deadline_s", self.cloud_deadline_s),
                                first_byte_s=c.get("first_byte_s", self.cloud_first_byte_s)))
        return out

    def prices(self):
        """``cloud_prices`` as ``Prices`` (None when not given)."""
        from .backends.cloud_llm import Prices

        return Prices(*self.cloud_prices) if self.cloud_prices else None

    def decision_prices(self):
        """The cascade's prices as ``routing.costs.DecisionPrices``."""
        from .routing.costs import DecisionPrices

        return DecisionPrices(self.price_wrong_answer, self.price_device_second, self.price_wait_second)

    @classmethod
    def from_env(cls, **values: Any) -> RouterSettings:
        """``values`` over the environment's settings (``EDGE_ROUTER_CLOUD_PRICES``, ``EDGE_ROUTER_TRACE``)."""
        from_env: dict[str, Any] = {}
        if "cloud_prices" not in values and settings.cloud_prices() is not None:
            from_env["cloud_prices"] = settings.cloud_prices()
        if "trace_path" not in values and settings.trace_path() is not None:
            from_env["trace_path"] = str(settings.trace_path())
        return cls(**{**from_env, **values})

    @classmethod
    def from_toml(cls, path: str | os.PathLike, **values: Any) -> RouterSettings:
        """A TOML settings file (keys are the field names; an ``[edge_router]`` table or top-level keys), with
        ``values`` over it."""
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise ConfigurationError("Reading a settings file needs Python 3.11 or newer (tomllib).") from None
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read the settings file {path}: {exc}") from exc
        data = data.get("edge_router", data)
        for key in ("cloud_prices", "privacy_triggers", "privacy_rules", "clouds"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return cls.from_mapping({**data, **values}, where=str(path))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, where: str = "settings") -> RouterSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                                     f"known: {', '.join(sorted(known))}.")
        return cls(**data)


def _check(s: RouterSettings) -> None:
    """Every value and combination the router could not honour, as one clear ``ConfigurationError``."""
    from .routing.threshold import check as check_threshold

    if s.mode is not None and s.mode not in defaults.MODES:
        raise ConfigurationError(f"mode must be one of {', '.join(defaults.MODES)}, not {s.mode!r}.")
    if s.mode == "gate" and s.prefill_probe:
        raise ConfigurationError("prefill_probe is combined with the trained router; the gate mode has none.")
    if s.mode == "gate" and (s.threshold is not None or s.cloud_share is not None):
        raise ConfigurationError("threshold and cloud_share (--threshold, --cloud-share) set the router; the "
                                 "gate's threshold is gate_threshold (--gate-threshold).")
    if s.offload_by_cost and s.prefill_probe is False:
        raise ConfigurationError("offload_by_cost prices the prefill probe's cascade: leave prefill_probe on "
                                 "(drop --no-prefill-probe).")
    if s.offload_by_cost and (s.threshold is not None or s.cloud_share is not None or s.quality_target is not None):
        raise ConfigurationError("offload_by_cost sets the threshold from prices; leave threshold, cloud_share and "
                                 "quality_target (--threshold, --cloud-share, --quality-target) unset, or drop "
                                 "offload_by_cost.")
    if s.quality_target is not None and (s.mode == "gate" or s.prefill_probe is False):
        raise ConfigurationError("quality_target is read from the prefill probe's calibration rows: leave the "
                                 "prefill probe on, with the trained router.")
    s.decision_prices()  # refuses a negative or non-finite price
    check_threshold(router_present=s.mode != "gate", threshold=s.threshold, cloud_share=s.cloud_share,
                    budget_window=s.budget_window, quality_target=s.quality_target)
    for name in ("gate_k", "max_tokens", "n_ctx", "breaker_failures"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive whole number, not {value!r}.")
    if s.threads is not None and (isinstance(s.threads, bool) or not isinstance(s.threads, int) or s.threads < 1):
        raise ConfigurationError(f"threads must be a positive whole number (or None for every CPU), not {s.threads!r}.")
    if isinstance(s.n_gpu_layers, bool) or not isinstance(s.n_gpu_layers, int) or s.n_gpu_layers < 0:
        raise ConfigurationError(f"n_gpu_layers must be a whole number of 0 or more, not {s.n_gpu_layers!r}.")
    if not 0 < s.repeat_penalty <= 2:
        raise ConfigurationError(f"repeat_penalty must be a number in (0, 2] (1 is none), not {s.repeat_penalty!r}.")
    if s.gate_clusterer not in defaults.CLUSTERERS:
        raise ConfigurationError(f"gate_clusterer must be one of {', '.join(defaults.CLUSTERERS)}, "
                                 f"not {s.gate_clusterer!r}.")
    for name in ("cloud_deadline_s", "cloud_first_byte_s", "breaker_cool_down_s"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}.")
    if isinstance(s.gate_threshold, bool) or not isinstance(s.gate_threshold, (int, float)) or s.gate_threshold < 0:
        raise ConfigurationError(f"gate_threshold is an entropy in nats, 0 or more, not {s.gate_threshold!r}.")
    if not s.check and (s.check_share is not None or s.check_threshold is not None or s.probe_path is not None):
        raise ConfigurationError("check_share, check_threshold and probe_path (--check-share, --check-threshold, "
                                 "--probe) set the answer check: turn it on with check=True (--check).")
    if s.check_share is not None and s.check_threshold is not None:
        raise ConfigurationError("give the answer check either a threshold or a cloud share, not both.")
    if s.check_share is not None:
        defaults.check_cloud_share(s.check_share)
    try:
        s.privacy_policy()
    except TypeError as exc:
        raise ConfigurationError(f"privacy_rules: each rule is a table with name, action and one of pattern, "
                                 f"keywords or examples ({exc}).") from None
    if s.check_threshold is not None and not 0.0 <= s.check_threshold <= 1.0:
        raise ConfigurationError(f"check_threshold is a probability in [0, 1], not {s.check_threshold}.")
    if s.store_prompts and s.store is None:
        raise ConfigurationError("store_prompts keeps prompts in the decision store: give store= a path too.")
    if not 0.0 <= s.shadow_share <= 1.0 or (s.shadow_share and s.store is None):
        raise ConfigurationError("shadow_share is a share in [0, 1] of local answers asked of the cloud again, and "
                                 "needs store= (the labels go there).")
    if not 0.0 <= s.follow_up_margin <= 1.0:
        raise ConfigurationError(f"follow_up_margin is a score distance in [0, 1], not {s.follow_up_margin}.")
    _check_clouds(s.clouds)


CLOUD_KEYS = {"name", "base_url", "model", "api_key_env", "prices", "deadline_s", "first_byte_s"}


def _check_clouds(clouds: tuple[dict, ...]) -> None:
    names = []
    for i, c in enumerate(clouds):
        if not isinstance(c, dict) or not {"name", "base_url", "model"} <= set(c) or set(c) - CLOUD_KEYS:
            raise ConfigurationError(f"clouds: endpoint {i + 1} is a table with name, base_url and model, and "
                                     f"optionally {', '.join(sorted(CLOUD_KEYS - {'name', 'base_url', 'model'}))} "
                                     f"(got {sorted(c) if isinstance(c, dict) else c!r}).")
        prices = c.get("prices")
        if prices is not None and (not isinstance(prices, (list, tuple)) or len(prices) != 2):
            raise ConfigurationError(f"clouds: {c['name']!r}'s prices are [IN, OUT], USD per million tokens.")
        names.append(c["name"])
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigurationError(f"clouds: endpoint names must be distinct; {', '.join(twice)} is used twice.")


GROUPS = ("decision", "cloud", "answer", "local")


def add_options(parser: argparse.ArgumentParser, *, groups: tuple[str, ...] = GROUPS) -> None:
    """The settings fields of ``groups`` as options of ``parser`` (their defaults left to ``RouterSettings``), and
    ``--config PATH`` for a TOML settings file."""
    parser.add_argument("--config", metavar="PATH", help="a TOML settings file (keys: the settings' field names); "
                        "options given on the command line win")
    for f in fields(RouterSettings):
        meta = f.metadata
        if meta["group"] not in groups:
            continue  # the "file" group is read from settings files only
        kwargs = dict(meta["argparse"])
        if meta["type"] is not None:
            kwargs["type"] = meta["type"]
        parser.add_argument(meta["flag"], dest=f.name, default=argparse.SUPPRESS, help=meta["help"], **kwargs)


def from_args(args: argparse.Namespace) -> RouterSettings:
    """The settings the command line gave (over the settings file and the environment); an error names the
    options, not the fields."""
    given = {f.name: getattr(args, f.name) for f in fields(RouterSettings) if hasattr(args, f.name)}
    config = getattr(args, "config", None)
    try:
        return RouterSettings.from_toml(config, **given) if config else RouterSettings.from_env(**given)
    except ConfigurationError as exc:
        message = str(exc)
        for f in fields(RouterSettings):
            message = re.sub(rf"(?<![\w-]){f.name}(?![\w(])", f.metadata["flag"], message)
        raise ConfigurationError(message) from None
