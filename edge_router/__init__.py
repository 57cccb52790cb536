"""edge-router: answer LLM queries on the device, offload to a cloud API only when needed.

Importing this package is cheap: llama.cpp, onnxruntime and numpy load only
when a class that needs them is first used.

    from edge_router import EdgeRouter
    router = EdgeRouter.from_defaults()
    answer = router.chat("What is the capital of France?")
    print(answer.text, answer.decision.route, answer.decision.reason)
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    AllRoutesFailedError,
    ChecksumMismatchError,
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
    PromptTooLongError,
    RouterModelError,
)

__version__ = "0.1.0"

_LAZY = {
    "EdgeRouter": "runtime",
    "Answer": "decision",
    "Decision": "decision",
    "LocalLLM": "local_llm",
    "CloudLLM": "cloud_llm",
    "Embedder": "embedder",
    "RouterModel": "router_model",
    "UncertaintyGate": "semantic_entropy",
    "semantic_entropy": "semantic_entropy",
    "ExactMatchClusterer": "clustering",
    "EmbeddingClusterer": "clustering",
    "EntailmentClusterer": "entailment",
    "EmbeddingNLIClusterer": "entailment",
    "Prices": "completions",
    "Usage": "completions",
}

__all__ = [
    "AllRoutesFailedError",
    "Answer",
    "ChecksumMismatchError",
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
    "PromptTooLongError",
    "RouterModel",
    "RouterModelError",
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
