"""edge-router: answer LLM queries on the device, offload to a cloud API only when needed.

Importing this package is cheap: llama.cpp, onnxruntime and numpy load only
when a class that needs them is first used.

    from edge_router import EdgeRouter
    with EdgeRouter.from_defaults() as router:
        answer = router.chat("What is the capital of France?")
        print(answer.text, answer.decision.route, answer.decision.reason)

Layout, in three layers:

- the device side, which an app embeds: ``files`` (model registry, verified
  cache, ONNX sessions), ``backends`` (local and cloud chat models, embedder,
  router file), ``uncertainty`` (semantic entropy and its clustering
  backends), ``privacy`` (detectors, policy, redaction), ``routing`` (``EdgeRouter``, its stages, decisions,
  cloud chain, budget, trace, ``AsyncEdgeRouter``);
- ``learning`` between them: the decision store, feedback and shadow labels (device side), and ``learn()``,
  which reads the router's label file and calibrates through the lab, loaded only when it runs;
- the lab, which builds and measures: ``data`` (benchmark, training and NLI
  readers, recorded outcomes), ``training`` (labels, routers, ONNX export),
  ``evaluation`` (PGR/CPT/APGR, baselines, judge), ``scale`` (labelling on Ray);
- the front ends: ``serving`` (``edge-router serve``), ``bench`` (``edge-router
  bench``), ``cli``, ``loopback`` (servers on 127.0.0.1: the misbehaving cloud, the stand-in cloud, the load
  generator), ``testing`` (public fakes for an app's tests) and ``integrations`` (LangChain, the ``llm`` CLI).

Top-level modules (``errors``, ``settings``, ``defaults``, ``config``, ``progress``,
``metrics``) are shared by all. Import rules, checked by tests/test_layout.py:
the device side never imports the lab, the front ends, torch, onnx, fastapi or
matplotlib; training and evaluation do not import each other; the lab imports
no front end; no module imports another subpackage's private (``_``) module.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from . import _moved
from .errors import (
    AllRoutesFailedError,
    ChecksumMismatchError,
    CloudCircuitOpenError,
    CloudError,
    CloudHTTPError,
    CloudResponseError,
    CloudTimeoutError,
    ConfigurationError,
    CorruptModelError,
    EdgeRouterError,
    InvalidInputError,
    LocalModelError,
    MissingDependencyError,
    ModelDownloadError,
    ModelFileError,
    ModelNotFoundError,
    OfflineModeError,
    PrivacyError,
    PromptTooLongError,
    RouterModelError,
)

__version__ = "0.1.0"

_moved.install()
# The library logs through `logging` and prints nothing unless the application configures logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "EdgeRouter": "routing.runtime",
    "Answer": "routing.decision",
    "Decision": "routing.decision",
    "LocalLLM": "backends.local_llm",
    "CloudLLM": "backends.cloud_llm",
    "Embedder": "backends.embedder",
    "RouterModel": "backends.router_model",
    "UncertaintyGate": "uncertainty.semantic_entropy",
    "AnswerCheck": "uncertainty.answer_check",
    "AnswerProbe": "uncertainty.answer_check",
    "semantic_entropy": "uncertainty.semantic_entropy",
    "ExactMatchClusterer": "uncertainty.clustering",
    "EmbeddingClusterer": "uncertainty.clustering",
    "EntailmentClusterer": "uncertainty.entailment",
    "EmbeddingNLIClusterer": "uncertainty.entailment",
    "Prices": "backends.completions",
    "Usage": "backends.completions",
    "PrivacyPolicy": "privacy.policy",
    "RouterSettings": "config",
    "AsyncEdgeRouter": "routing.async_api",
}

__all__ = [
    "AllRoutesFailedError",
    "Answer",
    "AsyncEdgeRouter",
    "AnswerCheck",
    "AnswerProbe",
    "ChecksumMismatchError",
    "CloudCircuitOpenError",
    "CloudError",
    "CloudHTTPError",
    "CloudLLM",
    "CloudResponseError",
    "CloudTimeoutError",
    "ConfigurationError",
    "CorruptModelError",
    "Decision",
    "EdgeRouter",
    "EdgeRouterError",
    "Embedder",
    "EmbeddingClusterer",
    "EntailmentClusterer",
    "EmbeddingNLIClusterer",
    "ExactMatchClusterer",
    "InvalidInputError",
    "LocalLLM",
    "LocalModelError",
    "MissingDependencyError",
    "ModelDownloadError",
    "ModelFileError",
    "ModelNotFoundError",
    "OfflineModeError",
    "Prices",
    "PrivacyError",
    "PrivacyPolicy",
    "PromptTooLongError",
    "RouterModel",
    "RouterModelError",
    "RouterSettings",
    "UncertaintyGate",
    "Usage",
    "__version__",
    "semantic_entropy",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edge_router' has no attribute {name!r}")
