"""Several cloud endpoints: a fallback chain over real loopback servers, a breaker per endpoint, a named endpoint."""

from __future__ import annotations

import json

import pytest

from edge_router import CloudLLM, EdgeRouter
from edge_router.errors import ConfigurationError, InvalidInputError
from edge_router.routing.breaker import CircuitBreaker
from edge_router.testing import CloudServer, FakeEmbedder, FakeLocal, FakeRouter


@pytest.fixture
def servers():
    started = [CloudServer().start(), CloudServer().start()]
    yield started
    for server in started:
        server.stop()


def _router(servers, **kwargs) -> EdgeRouter:
    clouds = [CloudLLM(base_url=s.base_url, model="m", name=name, max_retries=0)
              for s, name in zip(servers, ("cheap", "strong"))]
    return EdgeRouter(local=FakeLocal(n_ctx=500), cloud=clouds, router=FakeRouter(), embedder=FakeEmbedder(),
                      max_tokens=10, **kwargs)


def test_a_failing_endpoint_passes_the_request_to_the_next_not_to_the_device(servers):
    servers[0].behaviours.append("500")
    answer = _router(servers).chat("What is 2 + 2?", force="cloud")
    assert answer.route == "cloud" and not answer.degraded and answer.text == "cloud answer to: What is 2 + 2?"
    first, second = answer.decision.cloud_attempts
    assert first["endpoint"] == "cheap" and "500" in first["error"]
    assert second == {"endpoint": "strong", "error": None, "skipped": False}
    assert len(servers[0].requests) == 1 and len(servers[1].requests) == 1


def test_when_every_endpoint_fails_the_device_answers_and_the_decision_says_why(servers):
    for server in servers:
        server.behaviours.append("500")
    answer = _router(servers).chat("What is 2 + 2?", force="cloud")
    assert answer.route == "local" and answer.degraded and answer.decision.fallback_kind.value == "cloud_failed"
    assert [a["endpoint"] for a in answer.decision.cloud_attempts] == ["cheap", "strong"]
    assert all("500" in a["error"] for a in answer.decision.cloud_attempts)


def test_each_endpoint_has_its_own_circuit_breaker(servers):
    router = _router(servers, breaker=CircuitBreaker(failures=2, cool_down_s=60))
    servers[0].behaviours.extend(["500", "500"])
    for _ in range(2):
        assert router.chat("hi", force="cloud").decision.cloud_attempts[-1]["endpoint"] == "strong"
    answer = router.chat("hi", force="cloud")
    assert answer.decision.cloud_attempts[0] == {"endpoint": "cheap", "error": answer.decision.cloud_attempts[0][
        "error"], "skipped": True}
    assert len(servers[0].requests) == 2, "an open circuit is not called"
    assert router.routes.clouds.breaker("strong").state()["state"] == "closed"


def test_every_resting_endpoint_is_a_skipped_cloud(servers):
    router = _router(servers, breaker=CircuitBreaker(failures=1, cool_down_s=60))
    for server in servers:
        server.behaviours.append("500")
    router.chat("hi", force="cloud")
    answer = router.chat("hi", force="cloud")
    assert answer.degraded and answer.decision.fallback_kind.value == "cloud_skipped"
    assert all(a["skipped"] for a in answer.decision.cloud_attempts)


def test_a_call_may_name_the_endpoint_to_try_first(servers):
    router = _router(servers)
    answer = router.chat("hi", force="cloud", endpoint="strong")
    assert [a["endpoint"] for a in answer.decision.cloud_attempts] == ["strong"] and not servers[0].requests
    with pytest.raises(InvalidInputError, match="no cloud endpoint named 'gpt'; configured: cheap, strong"):
        router.chat("hi", endpoint="gpt")
    local_only = EdgeRouter(local=FakeLocal(n_ctx=500), max_tokens=10)
    with pytest.raises(InvalidInputError, match="none is configured"):
        local_only.chat("hi", endpoint="strong")


def test_a_stream_moves_on_before_its_first_piece(servers):
    servers[0].behaviours.append("500")
    with _router(servers).stream("What is 2 + 2?", force="cloud") as stream:
        text = "".join(stream)
    assert text == "cloud answer to: What is 2 + 2?" and not stream.answer.degraded
    assert [a["endpoint"] for a in stream.answer.decision.cloud_attempts] == ["cheap", "strong"]


def test_endpoints_need_distinct_names(servers):
    twins = [CloudLLM(base_url=s.base_url, model="m") for s in servers]
    with pytest.raises(ConfigurationError, match="distinct names; m is used twice"):
        EdgeRouter(local=FakeLocal(n_ctx=500), cloud=twins, router=FakeRouter(), embedder=FakeEmbedder())


def test_serve_lists_the_endpoints_and_a_request_may_name_one(servers):
    import requests
    from test_server import Served

    from edge_router.serving.server import create_app

    servers[1].behaviours.append("500")
    with Served(create_app(_router(servers))) as served:
        listed = requests.get(f"{served.base_url}/v1/models", timeout=10).json()
        assert [m["id"] for m in listed["data"]] == ["edge-router", "cheap", "strong"]
        body = {"model": "strong", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        for stream in (False, True):
            reply = requests.post(f"{served.base_url}/v1/chat/completions", json={**body, "stream": stream},
                                  timeout=30)
            assert reply.status_code == 200 and reply.headers["x-edge-router-route"] == "cloud"
            if not stream:  # "strong" failed once: "cheap" answered, and the response says so
                data = reply.json()
                assert data["model"] == "cloud:cheap"
                assert [a["endpoint"] for a in data["edge_router"]["cloud_attempts"]] == ["strong", "cheap"]
            else:  # a stream names the endpoint asked first
                first = json.loads(reply.text.split("\n\n")[0].removeprefix("data: "))
                assert first["model"] == "cloud:strong"
        refused = requests.post(f"{served.base_url}/v1/chat/completions",
                                json={**body, "edge_router": {"force": "local"}}, timeout=30)
        assert refused.status_code == 400 and "forced to the device" in refused.json()["error"]["message"]
        health = requests.get(f"{served.base_url}/health", timeout=10).json()
        assert set(health["cloud_circuits"]) == {"cheap", "strong"}


def test_a_settings_file_lists_endpoints_in_fallback_order(tmp_path, monkeypatch):
    from edge_router.config import RouterSettings

    path = tmp_path / "settings.toml"
    path.write_text('[[clouds]]\nname = "cheap"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "mini"\n'
                    'prices = [0.15, 0.6]\n\n[[clouds]]\nname = "strong"\nbase_url = "http://127.0.0.1:8/v1"\n'
                    'model = "big"\napi_key_env = "STRONG_KEY"\ndeadline_s = 5\n', encoding="utf-8")
    config = RouterSettings.from_toml(path)
    with pytest.raises(ConfigurationError, match="STRONG_KEY, which is not set"):
        config.cloud_endpoints()
    monkeypatch.setenv("STRONG_KEY", "sk-test")
    cheap, strong = config.cloud_endpoints()
    assert (cheap.name, cheap.model, cheap.prices.input_per_million) == ("cheap", "mini", 0.15)
    assert (strong.id, strong.deadline_s, strong._api_key) == ("cloud:strong", 5, "sk-test")
    with pytest.raises(ConfigurationError, match="is a table with name, base_url and model"):
        RouterSettings(clouds=({"name": "x", "base_url": "http://h/v1"},))
    with pytest.raises(ConfigurationError, match="x is used twice"):
        RouterSettings(clouds=({"name": "x", "base_url": "http://h/v1", "model": "a"},) * 2)


@pytest.mark.real_models
def test_from_defaults_takes_a_list_of_clouds(servers):
    from conftest import TINY_LLM

    servers[0].behaviours.append("500")
    clouds = [CloudLLM(base_url=s.base_url, model="m", name=name, max_retries=0)
              for s, name in zip(servers, ("cheap", "strong"))]
    with EdgeRouter.from_defaults(cloud=clouds, local_model=TINY_LLM, max_tokens=5) as router:
        answer = router.chat("hi", force="cloud")
    assert answer.text == "cloud answer to: hi" and answer.decision.cloud_attempts[-1]["endpoint"] == "strong"
