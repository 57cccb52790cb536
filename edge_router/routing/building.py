"""Building an ``EdgeRouter`` from ``RouterSettings``: which models to load, which cloud, which stages' parts.

Everything a setting can refuse is refused before a model loads.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import settings
from ..backends.cloud_llm import CloudLLM
from ..backends.embedder import Embedder
from ..backends.local_llm import LocalLLM
from ..backends.router_model import RouterModel, trained_on
from ..config import RouterSettings
from ..errors import ConfigurationError
from ..files import registry, shipped
from ..learning.store import DecisionStore
from ..uncertainty import answer_check as checking
from ..uncertainty.entailment import clusterer_named
from ..uncertainty.semantic_entropy import UncertaintyGate
from .costs import Cascade, CostMeter
from .policy import shipped_prefill_probe

log = logging.getLogger(__name__)


def parts(config: RouterSettings, *, cloud: Any = None, cloud_from_env: bool = True) -> dict[str, Any]:
    """The models and settings ``EdgeRouter`` takes, built from ``config``; the cloud from ``EDGE_ROUTER_CLOUD_*``
    when ``cloud`` is not given and ``cloud_from_env``."""
    router_file = Path(config.router_path) if config.router_path else shipped.shipped_router()
    mode = config.mode or ("router" if router_file else "gate")
    if "router" in mode and router_file is None:
        raise ConfigurationError("No router file: pass a router file (router_path=, or --router PATH) or use the "
                                 "gate mode (mode='gate', or --mode gate).")
    if mode == "gate" and (config.threshold is not None or config.cloud_share is not None):
        raise ConfigurationError("threshold and cloud_share (--threshold, --cloud-share) set the router; the "
                                 "gate's threshold is gate_threshold (--gate-threshold).")
    if settings.offline() and (cloud is not None or config.clouds
                               or settings.cloud_setting(settings.CLOUD_BASE_URL_ENV)):
        log.warning("%s is set: the cloud is left out and every query stays on the device", settings.OFFLINE_ENV)
        cloud, cloud_from_env, config = None, False, replace(config, clouds=())
    if cloud is None and config.clouds:
        cloud = config.cloud_endpoints()
    elif cloud is None and cloud_from_env and settings.cloud_setting(settings.CLOUD_BASE_URL_ENV):
        cloud = CloudLLM(deadline_s=config.cloud_deadline_s, first_byte_s=config.cloud_first_byte_s,
                         prices=config.prices())
    first_cloud = cloud[0] if isinstance(cloud, (list, tuple)) else cloud
    if config.offload_by_cost and cloud is not None and getattr(first_cloud, "prices", None) is None:
        raise ConfigurationError("offload_by_cost weighs the cloud's price: give its token prices (--prices IN,OUT, "
                                 f"{settings.CLOUD_PRICES_ENV}, or prices in the clouds table).")
    if cloud is None:
        log.info("no cloud endpoint configured (%s); every query stays local", settings.CLOUD_BASE_URL_ENV)
    answer_check = None
    if config.check and cloud is None and not settings.offline():
        raise ConfigurationError(f"the answer check (check=True, --check) hands unsure local answers to the "
                                 f"cloud, and no cloud is configured: set {settings.CLOUD_BASE_URL_ENV} (or "
                                 "pass cloud=) or leave the check off.")
    if config.check and cloud is None:
        log.warning("%s is set: the answer check is off (no cloud to hand a query to)", settings.OFFLINE_ENV)
    elif config.check:
        answer_check = checking.load_answer_check(config.probe_path, threshold=config.check_threshold,
                                                  cloud_share=config.check_share)
    local = LocalLLM(config.local_model, threads=config.threads, n_ctx=config.n_ctx,
                     n_gpu_layers=config.n_gpu_layers, repeat_penalty=config.repeat_penalty)
    embedder_name = config.embedder_name
    if embedder_name is None and router_file is not None and "router" in mode:
        named = trained_on(router_file)
        embedder_name = named if named in {s.name for s in registry.specs_for_role("embedder")} else None
    embedder = Embedder(name=embedder_name)
    clusterer = clusterer_named(config.gate_clusterer, embedder) if "gate" in mode else None
    router = RouterModel(router_file, embedder_id=embedder.id, dim=embedder.dim) if "router" in mode else None
    gate = (UncertaintyGate(clusterer, k=config.gate_k, threshold=config.gate_threshold)
            if clusterer is not None else None)
    state_probe, combination = _prefill_probe(config, router_file if router else None, local.id, cloud)
    cascade = _cascade(config, combination, first_cloud) if combination is not None else None
    return dict(local=local, cloud=cloud, embedder=embedder, router=router, threshold=config.threshold,
                state_probe=state_probe, combination=combination, cascade=cascade,
                offload_by_cost=config.offload_by_cost and cascade is not None, privacy=config.privacy_policy(),
                cloud_share=config.cloud_share, budget_window=config.budget_window,
                quality_target=config.quality_target, gate=gate,
                answer_check=answer_check, max_tokens=config.max_tokens, trace_path=config.trace_path,
                routing_turns=config.routing_turns, follow_up_margin=config.follow_up_margin,
                shadow_share=config.shadow_share, shadow_budget_usd=config.shadow_budget_usd,
                store=None if config.store is None else DecisionStore(
                    None if config.store == "default" else config.store, keep_prompts=config.store_prompts))


def _prefill_probe(config: RouterSettings, router_file: Path | None, local_id: str, cloud: Any) -> tuple[Any, Any]:
    """The shipped prefill probe and its policy where ``config`` wants them (on by default where they fit: the
    shipped router, the local model the probe reads, a cloud to offload to); an explicit ``prefill_probe=True``
    that cannot be honoured is refused, a default that does not fit is logged."""
    if config.prefill_probe is False or cloud is None:
        return None, None
    shipped_router = shipped.shipped_router()
    if router_file is None or shipped_router is None or router_file.resolve() != shipped_router.resolve():
        why = "its policy combines the shipped router's score, and this decision has another router or none"
    else:
        try:
            return shipped_prefill_probe(local_id)
        except ConfigurationError as exc:
            if config.prefill_probe:
                raise
            why = str(exc).rstrip(".")
    if config.prefill_probe or config.offload_by_cost or config.quality_target is not None:
        raise ConfigurationError(f"The prefill probe cannot run here: {why}. Drop prefill_probe, offload_by_cost "
                                 "and quality_target (--prefill-probe, --offload-by-cost, --quality-target), or use "
                                 "the shipped router.")
    log.info("the prefill probe is off: %s", why)
    return None, None


def _cascade(config: RouterSettings, combination: Any, cloud: Any) -> Cascade | None:
    """The prefill probe's cascade, priced by ``config`` and the ``cloud``'s token prices, when the policy file
    holds calibration rows."""
    if not combination.calibration_rows:
        if config.offload_by_cost:
            raise ConfigurationError("This policy file has no calibration rows to price the decision on; rebuild "
                                     "it with models/probes/build_state.py, or drop offload_by_cost.")
        log.info("the policy file has no calibration rows: the prefill probe runs on every local-bound query")
        return None
    meter = CostMeter(combination.probe_ms.get("offloaded_per_token"), combination.probe_ms.get("kept"))
    return Cascade(combination.calibration(), config.decision_prices(), meter, getattr(cloud, "prices", None))


def check_parts(*, local: Any, cloud: Any, embedder: Any, router: Any, gate: Any, answer_check: Any,
                state_probe: Any, combination: Any, stages: Any) -> None:
    """Refuse the parts an ``EdgeRouter`` cannot decide or answer with, before anything runs."""
    if local is None and cloud is None:
        raise ConfigurationError("EdgeRouter needs a local model, a cloud model or both.")
    if router is None and gate is None and cloud is not None and stages is None:
        raise ConfigurationError("With a cloud, EdgeRouter needs a router file (router=), an uncertainty gate "
                                 "(gate=) or both to decide.")
    if router is not None and embedder is None:
        raise ConfigurationError("A router needs the embedder it was trained with: pass embedder=.")
    if gate is not None and local is None:
        raise ConfigurationError("The uncertainty gate samples the local model: pass local=.")
    if answer_check is not None and (local is None or cloud is None):
        raise ConfigurationError("The answer check judges local answers that could go to the cloud: pass "
                                 "both local= and cloud=.")
    if answer_check is not None and answer_check.probe.uses_embedding and (
            embedder is None or embedder.id != answer_check.probe.embedder_id):
        raise ConfigurationError(f"This answer probe reads {answer_check.probe.embedder_id} query embeddings: "
                                 "pass embedder= with that embedder.")
    if (state_probe is None) != (combination is None) or (state_probe is not None and router is None):
        raise ConfigurationError("The prefill probe is combined with the router's score: pass router=, "
                                 "state_probe= and combination= together.")
    if state_probe is not None and (local is None or state_probe.local_model != local.id):
        raise ConfigurationError(f"This prefill probe reads the state of {state_probe.local_model}, not of "
                                 f"{local.id if local else 'a missing local model'}.")
