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
    state_probe, combination = (shipped_prefill_probe(local.id) if config.prefill_probe and router and cloud
                                else (None, None))
    return dict(local=local, cloud=cloud, embedder=embedder, router=router, threshold=config.threshold,
                state_probe=state_probe, combination=combination, privacy=config.privacy_policy(),
                cloud_share=config.cloud_share, budget_window=config.budget_window, gate=gate,
                answer_check=answer_check, max_tokens=config.max_tokens, trace_path=config.trace_path,
                routing_turns=config.routing_turns, follow_up_margin=config.follow_up_margin,
                shadow_share=config.shadow_share, shadow_budget_usd=config.shadow_budget_usd,
                store=None if config.store is None else DecisionStore(
                    None if config.store == "default" else config.store, keep_prompts=config.store_prompts))
