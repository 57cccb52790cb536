"""Several cloud endpoints: a fallback chain over real loopback servers, a breaker per endpoint, a named endpoint."""

from __future__ import annotations

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
