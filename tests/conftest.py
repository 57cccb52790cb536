"""Shared fixtures: the real default models (session-wide), a loopback cloud, tmp caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_router.testing import CloudServer

REAL_MODEL_FIXTURES = {"local_llm", "embedder", "minilm_tokenizer_path", "real_router_file"}


def pytest_collection_modifyitems(items):
    """Every test that uses a real model file is marked ``real_models`` (``pytest -m "not real_models"``: the fast
    loop), whether it asks for a real-model fixture or its module says so (``pytestmark``)."""
    for item in items:
        if REAL_MODEL_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.real_models)


@pytest.fixture(autouse=True)
def _no_cloud_env(monkeypatch):
    """Tests never see a developer's real cloud settings or trace file."""
    for name in ("EDGE_ROUTER_CLOUD_BASE_URL", "EDGE_ROUTER_CLOUD_API_KEY", "EDGE_ROUTER_CLOUD_MODEL",
                 "EDGE_ROUTER_TRACE", "EDGE_ROUTER_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder():
    from edge_router import Embedder

    return Embedder()


TINY_LLM = "smollm2-135m-instruct-q4_1"


@pytest.fixture(scope="session")
def local_llm():
    """The tiny registered model: for tests that need a working GGUF, not a good one (fast)."""
    from edge_router import LocalLLM

    return LocalLLM(TINY_LLM, seed=1234, threads=2)


@pytest.fixture(scope="session")
def minilm_tokenizer_path(embedder) -> Path:
    return embedder.tokenizer_path


@pytest.fixture
def cloud_server():
    server = CloudServer().start()
    yield server
    server.stop()


@pytest.fixture
def real_router_file(tmp_path, embedder):
    """A constant-score router file on the real embedder: ``build(bias)`` scores every query sigmoid(bias)."""
    import numpy as np
    from onnx_builders import logistic_router

    from edge_router import RouterModel

    def build(bias: float):
        return RouterModel(
            logistic_router(tmp_path / f"r{bias}.onnx", np.zeros(embedder.dim, np.float32), bias,
                            embedder_id=embedder.id, kind="constant"),
            embedder_id=embedder.id, dim=embedder.dim,
        )
    return build

