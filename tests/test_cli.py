"""The `edge-router` command, run as a real subprocess with the real default models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from onnx_builders import logistic_router


def cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "edge_router", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture
def router_file(tmp_path, embedder):
    return logistic_router(tmp_path / "r.onnx", np.zeros(embedder.dim, np.float32), 2.0,
                           embedder_id=embedder.id, kind="constant")


def test_route_json_has_the_decision(router_file):
    out = cli("route", "What is 2+2?", "--json", "--router", str(router_file))
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    for key in ("route", "score", "threshold", "reason", "timings_ms"):
        assert key in decision
    assert decision["route"] == "local" and decision["mode"] == "local-only"  # no cloud: nothing to decide
    assert not decision["degraded"] and "no cloud endpoint" in decision["reason"]
    assert decision["models"]["router"].endswith(":constant")


def test_ask_json_answers(cloud_server, router_file):
    env = {"EDGE_ROUTER_CLOUD_BASE_URL": cloud_server.base_url, "EDGE_ROUTER_CLOUD_MODEL": "m"}
    out = cli("ask", "What is 2+2?", "--json", "--router", str(router_file), "--max-tokens", "16", env_extra=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["route"] == "cloud" and answer["answer"] == "cloud answer to: What is 2+2?"
    for key in ("score", "threshold", "reason", "timings_ms", "degraded", "usage"):
        assert key in answer

    local = json.loads(cli("ask", "Say hi.", "--json", "--force", "local", "--max-tokens", "8",
                           "--router", str(router_file), env_extra=env).stdout)
    assert local["route"] == "local" and local["answer"] and local["usage"]["completion_tokens"] <= 8


@pytest.mark.real_models
def test_a_router_file_brings_the_embedder_it_names(tmp_path):
    static = logistic_router(tmp_path / "static.onnx", np.zeros(256, np.float32), 2.0,
                             embedder_id="minilm-l6-v2-static", kind="constant")
    out = cli("route", "What is 2+2?", "--json", "--router", str(static))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["models"]["embedder"] == "minilm-l6-v2-static"


def test_models_list_shows_the_cached_defaults():
    rows = json.loads(cli("models", "list", "--json").stdout)
    assert {r["role"] for r in rows} == {"local-llm", "embedder", "tokenizer", "nli", "training-base"}
    runtime = [r for r in rows if r["role"] != "training-base"]
    assert all(r["cached"] for r in runtime), "make test pulls the runtime's models first"


def test_bad_input_exits_2_with_a_fix(router_file, tmp_path, embedder):
    out = cli("route", "   ", "--router", str(router_file))
    assert out.returncode == 2 and "empty or whitespace" in out.stderr and "Traceback" not in out.stderr
    foreign = logistic_router(tmp_path / "foreign.onnx", np.zeros(embedder.dim, np.float32), 0.0,
                              embedder_id="some-other-embedder")
    out = cli("route", "hello", "--router", str(foreign))
    assert out.returncode == 2 and "trained on embeddings of 'some-other-embedder'" in out.stderr
    out = cli("models", "pull", "no-such-model")
    assert out.returncode == 2 and "Known models" in out.stderr


def test_ask_options_system_sampling_and_prices(cloud_server, router_file):
    env = {"EDGE_ROUTER_CLOUD_BASE_URL": cloud_server.base_url, "EDGE_ROUTER_CLOUD_MODEL": "m",
           "EDGE_ROUTER_CLOUD_PRICES": "1,2"}
    out = cli("ask", "Hi", "--json", "--force", "cloud", "--router", str(router_file), "--system", "Be brief.",
              "--temperature", "0.4", "--seed", "9", env_extra=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    body = cloud_server.requests[-1]["body"]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (body["temperature"], body["seed"]) == (0.4, 9)
    usage = answer["usage"]  # as the loopback server reported it, priced at $1 / $2 per million tokens
    assert answer["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 1 + usage["completion_tokens"] * 2) / 1e6)
    flag = json.loads(cli("ask", "Hi", "--json", "--force", "cloud", "--router", str(router_file),
                          "--prices", "10,20", env_extra=env).stdout)
    assert flag["cost_usd"] == pytest.approx(10 * answer["cost_usd"])
    bad = cli("ask", "Hi", "--prices", "cheap", "--router", str(router_file), env_extra=env)
    assert bad.returncode == 2 and "0.15,0.60" in bad.stderr
