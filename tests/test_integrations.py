"""The ``llm`` command line's plugin and the LiteLLM recipe, against a loopback cloud (and, for LiteLLM,
``edge-router serve`` in this process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_router.testing import CloudServer

TINY = "smollm2-135m-instruct-q4_1"


@pytest.fixture
def llm_env(tmp_path, monkeypatch, cloud_server):
    """The environment the plugin reads: a loopback cloud, a settings file naming the tiny local model, and an
    ``llm`` home of its own."""
    settings = tmp_path / "edge-router.toml"
    settings.write_text(f'local_model = "{TINY}"\nmax_tokens = 12\n', encoding="utf-8")
    env = {"EDGE_ROUTER_CLOUD_BASE_URL": cloud_server.base_url, "EDGE_ROUTER_CLOUD_MODEL": "loopback-cloud",
           "EDGE_ROUTER_SETTINGS": str(settings), "LLM_USER_PATH": str(tmp_path / "llm")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.mark.real_models
def test_the_llm_plugin_answers_streams_and_keeps_the_decision(llm_env, cloud_server):
    llm = pytest.importorskip("llm", reason="the llm extra is not installed (make test installs it)")
    model = llm.get_model("edge-router")
    local = model.prompt("2 + 2?", force="local", max_tokens=6)
    assert local.text() and local.response_json["route"] == "local"
    assert local.response_json["answered_by"] == TINY and local.output_tokens > 0
    pieces = list(model.prompt("Name a colour.", force="cloud", stream=True))
    assert "".join(pieces) == "cloud answer to: Name a colour." and len(pieces) > 1
    private = model.prompt("My SSN is 078-05-1120, fill in the form.", force="cloud", privacy="redact")
    assert private.text() == "cloud answer to: My SSN is 078-05-1120, fill in the form."
    assert list(private.response_json["privacy"]) == ["US_SSN"]
    assert "078-05-1120" not in str(cloud_server.requests[-1]["body"]), "the cloud saw a placeholder"


@pytest.mark.real_models
def test_the_llm_command_finds_the_plugin_through_its_entry_point(llm_env):
    pytest.importorskip("llm", reason="the llm extra is not installed (make test installs it)")
    done = subprocess.run([sys.executable, "-m", "llm", "-m", "edge-router", "hello there", "-o", "force", "cloud"],
                          capture_output=True, text=True, env={**os.environ, **llm_env}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "cloud answer to: hello there"
    assert (Path(llm_env["LLM_USER_PATH"]) / "logs.db").is_file()


@pytest.mark.real_models
def test_litellm_reaches_serve_through_its_openai_compatible_provider(local_llm, monkeypatch):
    """The README's LiteLLM recipe: ``openai/<any name>`` with ``api_base`` at ``serve``; edge-router's options
    in ``extra_body``, its decision in the response."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of LiteLLM's price list
    litellm = pytest.importorskip("litellm", reason="litellm is a dev dependency (make test installs it)")
    from edge_router import CloudLLM, EdgeRouter
    from edge_router.loopback.in_process import serving
    from edge_router.serving.server import create_app
    from edge_router.testing import FakeEmbedder, FakeRouter

    cloud = CloudServer().start()
    try:
        router = EdgeRouter(local=local_llm, cloud=CloudLLM(base_url=cloud.base_url, model="loopback-cloud"),
                            embedder=FakeEmbedder(), router=FakeRouter(), threshold=0.5, max_tokens=8)
        with serving(create_app(router)) as base_url:
            options = {"model": "openai/edge-router", "api_base": f"{base_url}/v1", "api_key": "none"}
            local = litellm.completion(messages=[{"role": "user", "content": "2 + 2?"}], **options)
            assert local.choices[0].message.content and local.model == TINY
            assert local.edge_router["route"] == "local" and local.edge_router["reason"].startswith("router score")
            assert local._hidden_params["additional_headers"]["llm_provider-x-edge-router-route"] == "local"
            forced = litellm.completion(messages=[{"role": "user", "content": "2 + 2?"}],
                                        extra_body={"edge_router": {"force": "cloud"}}, **options)
            assert forced.choices[0].message.content == "cloud answer to: 2 + 2?"
            streamed = litellm.completion(messages=[{"role": "user", "content": "Name a colour."}], stream=True,
                                          extra_body={"edge_router": {"force": "cloud"}}, **options)
            text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed)
            assert text == "cloud answer to: Name a colour."
    finally:
        cloud.stop()
