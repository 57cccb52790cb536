"""CloudLLM against the real cloud stand-in (llama-cpp-python's OpenAI-compatible server on loopback)."""

from __future__ import annotations

import pytest

from edge_router import CloudLLM
from edge_router.standin import MODEL_ALIAS, StandinServer


@pytest.fixture(scope="module")
def standin():
    with StandinServer(threads=1, n_ctx=512) as server:
        yield server


def test_chat_and_stream_against_the_standin(standin):
    cloud = CloudLLM(base_url=standin.base_url, model=MODEL_ALIAS)
    completion = cloud.chat("Name a colour.", max_tokens=12)
    assert completion.text and completion.usage.completion_tokens <= 12
    stream = cloud.stream("Name a colour.", max_tokens=12)
    pieces = list(stream)
    assert pieces and "".join(pieces).strip() == stream.completion.text


def test_stop_ends_the_server(standin):
    server = StandinServer(threads=1, n_ctx=256).start()
    proc = server._proc
    server.stop()
    assert proc.poll() is not None
