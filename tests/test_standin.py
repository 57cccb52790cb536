"""CloudLLM against the real cloud stand-in (llama-cpp-python's OpenAI-compatible server on loopback)."""

from __future__ import annotations

import pytest
from conftest import TINY_LLM

from edge_router import CloudLLM
from edge_router.loopback.standin import MODEL_ALIAS, StandinServer

pytestmark = pytest.mark.real_models  # every test here loads a real model file


@pytest.fixture(scope="module")
def standin():
    """The registry's stand-in model (Qwen2.5-Coder-1.5B-Instruct), as the demo serves it."""
    with StandinServer(threads=2, n_ctx=512) as server:
        yield server


def test_the_standin_serves_the_stronger_registered_model(standin):
    assert standin.model_id == "qwen2.5-coder-1.5b-instruct-q4_k_m"


def test_chat_and_stream_against_the_standin(standin):
    cloud = CloudLLM(base_url=standin.base_url, model=MODEL_ALIAS)
    completion = cloud.chat("Name a colour.", max_tokens=12)
    assert completion.text and completion.usage.completion_tokens <= 12
    stream = cloud.stream("Name a colour.", max_tokens=12)
    pieces = list(stream)
    assert pieces and "".join(pieces).strip() == stream.completion.text


def test_k_samples_in_one_request_share_the_prefill(standin):
    cloud = CloudLLM(base_url=standin.base_url, model=MODEL_ALIAS)
    samples = cloud.sample("Name a colour. One word.", 3, max_tokens=6)
    assert len(samples) == 3 and all(s.text for s in samples)
    assert all(1 <= len(s.token_logprobs) <= 6 and all(lp <= 0 for lp in s.token_logprobs) for s in samples)


def test_an_endpoint_that_ignores_n_is_asked_again(cloud_server):
    """The loopback test server answers one choice whatever ``n`` says: the client asks until it has k."""
    cloud = CloudLLM(base_url=cloud_server.base_url, model="m")
    assert len(cloud.sample("Hi", 3, max_tokens=4)) == 3


def test_bad_requests_get_400(standin):
    import requests

    bad = requests.post(f"{standin.base_url}/chat/completions", json={"messages": [{"role": "wizard"}]}, timeout=30)
    assert bad.status_code == 400 and "role" in bad.json()["error"]["message"]


def test_stop_ends_the_server():
    server = StandinServer(TINY_LLM, threads=1, n_ctx=256).start()
    proc = server._proc
    server.stop()
    assert proc.poll() is not None
