"""CloudLLM against a real HTTP server on loopback that answers, streams, throttles, fails, hangs and breaks."""

from __future__ import annotations

import logging
import time

import pytest

from edge_router import CloudLLM, Prices
from edge_router.errors import CloudError, CloudHTTPError, CloudResponseError, CloudTimeoutError, ConfigurationError

KEY = "sk-test-SECRET-0123456789"


def make(server, **kwargs) -> CloudLLM:
    kwargs.setdefault("backoff_base", 0.01)
    return CloudLLM(base_url=server.base_url, api_key=KEY, model="m1", **kwargs)


def test_chat_answers_with_usage_and_cost(cloud_server):
    cloud = make(cloud_server, prices=Prices(input_per_million=1.0, output_per_million=2.0))
    completion = cloud.chat("What is 2+2?", max_tokens=20)
    assert completion.text == "cloud answer to: What is 2+2?"
    assert completion.usage.prompt_tokens == 10
    assert completion.cost_usd == pytest.approx((10 * 1.0 + completion.usage.completion_tokens * 2.0) / 1e6)
    request = cloud_server.requests[0]
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"]["max_tokens"] == 20 and request["body"]["model"] == "m1"


def test_stream_yields_pieces_and_a_completion(cloud_server):
    stream = make(cloud_server).stream("Tell me")
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == "cloud answer to: Tell me"
    assert stream.completion.text == "cloud answer to: Tell me"
    assert stream.completion.usage.completion_tokens == len(pieces)


def test_429_is_retried_after_the_retry_after_delay(cloud_server):
    cloud_server.behaviours.extend(["429"])
    cloud_server.retry_after = 1
    start = time.monotonic()
    completion = make(cloud_server).chat("hi")
    assert completion.text.startswith("cloud answer")
    assert [r["behaviour"] for r in cloud_server.requests] == ["429", "ok"]
    assert time.monotonic() - start >= 0.95


def test_500_is_retried_then_raises_after_max_retries(cloud_server):
    cloud_server.behaviours.extend(["500"] * 10)
    with pytest.raises(CloudHTTPError) as info:
        make(cloud_server, max_retries=2).chat("hi")
    assert info.value.status == 500
    assert len(cloud_server.requests) == 3


def test_500_then_success_recovers(cloud_server):
    cloud_server.behaviours.extend(["500", "500"])
    assert make(cloud_server, max_retries=3).chat("hi").text.startswith("cloud answer")
    assert len(cloud_server.requests) == 3


def test_other_4xx_is_not_retried(cloud_server):
    cloud_server.behaviours.extend(["400", "ok"])
    with pytest.raises(CloudHTTPError) as info:
        make(cloud_server).chat("hi")
    assert info.value.status == 400 and len(cloud_server.requests) == 1


def test_401_says_which_setting_holds_the_key(cloud_server):
    cloud_server.behaviours.append("401")
    with pytest.raises(CloudHTTPError, match="EDGE_ROUTER_CLOUD_API_KEY"):
        make(cloud_server).chat("hi")


def test_hang_past_the_timeout_raises_a_timeout(cloud_server):
    cloud_server.behaviours.extend(["hang", "hang"])
    cloud_server.hang_seconds = 2.0
    with pytest.raises(CloudTimeoutError) as info:
        make(cloud_server, read_timeout=0.3, max_retries=1).chat("hi")
    assert isinstance(info.value, TimeoutError)
    assert len(cloud_server.requests) == 2


def test_malformed_json_is_a_clear_error(cloud_server):
    cloud_server.behaviours.append("malformed")
    with pytest.raises(CloudResponseError, match="malformed"):
        make(cloud_server).chat("hi")


def test_stream_cut_halfway_keeps_the_partial_text(cloud_server):
    cloud_server.behaviours.append("cut")
    stream = make(cloud_server).stream("one two three four five six")
    received = []
    with pytest.raises(CloudResponseError) as info:
        for piece in stream:
            received.append(piece)
    assert received, "some pieces arrived before the cut"
    assert info.value.partial_text == "".join(received)
    assert stream.completion is None


def test_unreachable_server_is_a_cloud_error():
    cloud = CloudLLM(base_url="http://127.0.0.1:9/v1", model="m", max_retries=1, backoff_base=0.01)
    with pytest.raises(CloudError, match="Cannot connect"):
        cloud.chat("hi")


def test_key_never_in_repr_errors_or_logs(cloud_server, caplog):
    cloud = make(cloud_server, max_retries=1)
    assert KEY not in repr(cloud)
    cloud_server.behaviours.extend(["500", "500", "401"])
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            with pytest.raises(CloudError) as info:
                cloud.chat("hi")
            assert KEY not in str(info.value)
    assert KEY not in caplog.text


def test_settings_come_from_the_environment(cloud_server, monkeypatch):
    monkeypatch.setenv("EDGE_ROUTER_CLOUD_BASE_URL", cloud_server.base_url)
    monkeypatch.setenv("EDGE_ROUTER_CLOUD_MODEL", "env-model")
    monkeypatch.setenv("EDGE_ROUTER_CLOUD_API_KEY", KEY)
    cloud = CloudLLM()
    cloud.chat("hi")
    assert cloud_server.requests[0]["body"]["model"] == "env-model"
    assert cloud_server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_missing_settings_say_how_to_set_them():
    with pytest.raises(ConfigurationError, match="EDGE_ROUTER_CLOUD_BASE_URL"):
        CloudLLM(model="m")
    with pytest.raises(ConfigurationError, match="EDGE_ROUTER_CLOUD_MODEL"):
        CloudLLM(base_url="http://127.0.0.1:1/v1")


def test_a_hung_cloud_costs_at_most_the_deadline_across_all_retries(cloud_server):
    cloud_server.behaviours.extend(["hang"] * 6)
    cloud_server.hang_seconds = 3.0
    cloud = make(cloud_server, read_timeout=60, max_retries=5, deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(CloudTimeoutError, match="deadline of 1 s for a whole answer"):
        cloud.chat("hi")
    assert time.monotonic() - started < 1.6


def test_a_stream_whose_first_byte_is_late_fails_within_its_own_deadline(cloud_server):
    cloud_server.behaviours.extend(["hang"] * 3)
    cloud_server.hang_seconds = 3.0
    cloud = make(cloud_server, max_retries=3, first_byte_s=0.5)
    started = time.monotonic()
    with pytest.raises(CloudTimeoutError, match="first streamed byte"):
        cloud.stream("hi")
    assert time.monotonic() - started < 1.1


def test_a_hung_cloud_is_answered_on_the_device_within_the_deadline(cloud_server, local_llm):
    from edge_router import EdgeRouter, ExactMatchClusterer, UncertaintyGate

    cloud_server.behaviours.extend(["hang"] * 4)
    cloud_server.hang_seconds = 4.0
    router = EdgeRouter(local=local_llm, cloud=make(cloud_server, deadline_s=1.0),
                        gate=UncertaintyGate(ExactMatchClusterer()), max_tokens=4)
    started = time.monotonic()
    answer = router.chat("Say hi.", force="cloud")
    waited = time.monotonic() - started
    assert answer.route == "local" and answer.degraded and "deadline of 1 s" in answer.decision.fallback
    assert waited < 1.0 + 0.5 + answer.answer_ms / 1e3, "the deadline plus the local answer, no more"


def test_sampling_settings_reach_the_cloud(cloud_server):
    from edge_router.backends.completions import Sampling

    sampling = Sampling(temperature=0.3, top_p=0.9, seed=5, stop="\n", presence_penalty=0.5, frequency_penalty=0.1)
    make(cloud_server).chat("hi", max_tokens=5, sampling=sampling)
    list(make(cloud_server).stream("hi", max_tokens=5, sampling=sampling))
    for request in cloud_server.requests[-2:]:
        body = request["body"]
        assert (body["temperature"], body["top_p"], body["seed"], body["stop"]) == (0.3, 0.9, 5, ["\n"])
        assert (body["presence_penalty"], body["frequency_penalty"]) == (0.5, 0.1)


def test_a_server_that_speaks_no_http_is_a_cloud_error_within_the_deadline():
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def garbage():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
            conn.close()

    threading.Thread(target=garbage, daemon=True).start()
    cloud = CloudLLM(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1", model="m", max_retries=2,
                     backoff_base=0.01, deadline_s=3.0)
    started = time.monotonic()
    with pytest.raises(CloudError):
        cloud.chat("hi")
    assert time.monotonic() - started < 3.5
    listener.close()


def test_429_without_retry_after_backs_off_and_recovers(cloud_server):
    cloud_server.retry_after = None
    cloud_server.behaviours.extend(["429", "429"])
    assert make(cloud_server, max_retries=3).chat("hi").text == "cloud answer to: hi"
