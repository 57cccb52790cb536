"""`edge-router serve` started for real on loopback, called with the official openai client and raw HTTP."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import openai
import pytest
import requests
import uvicorn
from onnx_builders import logistic_router

from edge_router import CloudLLM, EdgeRouter, RouterModel
from edge_router.errors import ConfigurationError
from edge_router.loopback.fault_server import CloudServer
from edge_router.loopback.standin import free_port
from edge_router.serving.server import check_binding, create_app


class Served:
    def __init__(self, app):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def cloud():
    server = CloudServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def edge(local_llm, embedder, cloud, tmp_path_factory):
    path = logistic_router(tmp_path_factory.mktemp("router") / "r.onnx", np.zeros(embedder.dim, np.float32), -4.0,
                           embedder_id=embedder.id)
    router = RouterModel(path, embedder_id=embedder.id, dim=embedder.dim)
    cloud_llm = CloudLLM(base_url=cloud.base_url, model="m", max_retries=1, backoff_base=0.01)
    return EdgeRouter(local=local_llm, cloud=cloud_llm, embedder=embedder, router=router, max_tokens=12)


@pytest.fixture(scope="module")
def served(edge):
    with Served(create_app(edge)) as s:
        yield s


def client(served) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.base_url}/v1", api_key="not-needed", max_retries=0)


def test_openai_client_non_streaming_local(served):
    raw = client(served).chat.completions.with_raw_response.create(
        model="edge-router", messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8)
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert raw.headers["x-edge-router-route"] == "local"
    assert float(raw.headers["x-edge-router-score"]) == pytest.approx(1 / (1 + np.exp(4.0)), abs=1e-5)
    assert "router score" in raw.headers["x-edge-router-reason"]
    info = completion.model_extra["edge_router"]
    assert info["route"] == "local" and info["answered_by"].startswith("smollm2")
    assert completion.model == info["answered_by"], "the response names the model that answered"
    assert completion.usage.completion_tokens <= 8


def test_openai_client_streaming_forced_to_the_cloud(served):
    stream = client(served).chat.completions.create(
        model="edge-router", messages=[{"role": "user", "content": "Tell me about tea."}], stream=True,
        extra_body={"edge_router": {"force": "cloud"}})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "cloud answer to: Tell me about tea."
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["edge_router"]["route"] == "cloud"


def test_force_by_header_and_local_stream(served):
    stream = client(served).chat.completions.create(
        model="edge-router", messages=[{"role": "user", "content": "Say hi."}], stream=True,
        extra_headers={"x-edge-router-force": "local"})
    chunks = list(stream)
    assert chunks[-1].model_extra["edge_router"]["route"] == "local"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_cloud_failure_is_visible_as_degraded(served, cloud):
    cloud.behaviours.extend(["500", "500"])
    raw = client(served).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
        extra_body={"edge_router": {"force": "cloud"}})
    completion = raw.parse()
    info = completion.model_extra["edge_router"]
    assert info["degraded"] and info["route"] == "local" and "HTTP 500" in info["fallback"]
    assert (info["decided"], info["fallback_kind"]) == ("cloud", "cloud_failed")
    assert raw.headers["x-edge-router-route"] == "local" and raw.headers["x-edge-router-decided"] == "cloud"
    assert raw.headers["x-edge-router-degraded"] == "true"
    assert raw.headers["x-edge-router-fallback"].startswith("cloud_failed: cloud failed")
    assert completion.model == info["answered_by"] != "gpt-4o"
    metrics = requests.get(f"{served.base_url}/metrics", timeout=10).text
    assert 'edge_router_fallbacks_total{reason="cloud_failed"}' in metrics


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "'messages' is required"),
        (json.dumps({"messages": "hello"}).encode(), "must be a list"),
        (json.dumps({"messages": [{"role": "wizard", "content": "x"}]}).encode(), "role 'wizard'"),
        (json.dumps({"messages": [{"role": "user", "content": 5}]}).encode(), "content must be a string"),
        (json.dumps({"messages": [{"role": "user", "content": "  "}]}).encode(), "empty or whitespace"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"}).encode(), "max_tokens"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}).encode(), "'stream'"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "edge_router": {"route": "moon"}}).encode(),
         "edge_router"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "edge_router": {"force": "moon"}}).encode(),
         "'force'"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "edge_router": {"cloud_share": 0.3}}).encode(),
         "calibration table"),
        (json.dumps({"messages": [{"role": "user", "content": "x" * 1_100_000}]}).encode(), "larger than"),
    ],
)
def test_invalid_requests_get_400_with_an_openai_error(served, body, fragment):
    resp = requests.post(f"{served.base_url}/v1/chat/completions", data=body,
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert fragment in error["message"] and error["type"] == "invalid_request_error"
    assert "Traceback" not in resp.text


def test_models_health_and_metrics(served):
    models = requests.get(f"{served.base_url}/v1/models", timeout=10).json()
    assert models["data"][0]["id"] == "edge-router"
    health = requests.get(f"{served.base_url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["cloud_circuit"]["state"] == "closed"
    client(served).chat.completions.create(model="edge-router", messages=[{"role": "user", "content": "Hi"}],
                                           max_tokens=4)
    text = requests.get(f"{served.base_url}/metrics", timeout=10).text
    assert 'edge_router_requests_total{route="local",status="200"}' in text
    assert "edge_router_decision_ms_bucket" in text and 'edge_router_errors_total{status="400"}' in text
    assert "edge_router_cloud_circuit_open 0.0" in text
    assert 'edge_router_tokens_total{kind="completion",route="local"}' in text


def test_a_client_that_disconnects_mid_stream_frees_the_local_model(served):
    body = {"model": "edge-router", "messages": [{"role": "user", "content": "Write a long story."}],
            "stream": True, "max_tokens": 200, "edge_router": {"force": "local"}}
    with requests.post(f"{served.base_url}/v1/chat/completions", json=body, stream=True, timeout=30) as resp:
        lines = resp.iter_lines()
        assert next(lines).startswith(b"data: ")
    # the abandoned stream must not keep the local model: the next local request completes
    start = time.monotonic()
    completion = client(served).chat.completions.create(
        model="edge-router", messages=[{"role": "user", "content": "Hi"}], max_tokens=4,
        extra_body={"edge_router": {"force": "local"}}, timeout=60)
    assert completion.choices[0].message.content is not None
    assert time.monotonic() - start < 60


def test_bearer_token_is_required_when_set(edge):
    with Served(create_app(edge, token="s3cret")) as s:
        assert requests.get(f"{s.base_url}/health", timeout=10).status_code == 401
        denied = requests.get(f"{s.base_url}/v1/models", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        ok = requests.get(f"{s.base_url}/v1/models", headers={"Authorization": "Bearer s3cret"}, timeout=10)
        assert ok.status_code == 200


def test_binding_rules():
    check_binding("127.0.0.1", allow_remote=False, token=None)
    with pytest.raises(ConfigurationError, match="--allow-remote"):
        check_binding("0.0.0.0", allow_remote=False, token="t")
    with pytest.raises(ConfigurationError, match="EDGE_ROUTER_SERVER_TOKEN"):
        check_binding("0.0.0.0", allow_remote=True, token=None)
    check_binding("0.0.0.0", allow_remote=True, token="t")


def _answered(served) -> float:
    text = requests.get(f"{served.base_url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("edge_router_requests_total{"))


def test_bounded_load_every_request_answered_exactly_once(served):
    from edge_router.loopback.load import run_load

    before = _answered(served)
    result = run_load(served.base_url, requests_total=200, concurrency=8, max_tokens=4)
    rows, summary = result["rows"], result["summary"]
    assert summary["errors"] == 0, summary["error_samples"]
    assert sorted(r["i"] for r in rows) == list(range(200))
    assert all(r["route"] == r["wanted"] for r in rows)
    cloud_rows = [r for r in rows if r["wanted"] == "cloud"]
    assert all(r["text"] == f"cloud answer to: Request {r['i']}: name a colour." for r in cloud_rows)
    assert _answered(served) - before == 200, "the server answered each request once"


def test_shutdown_finishes_in_flight_requests(edge):
    result = {}
    with Served(create_app(edge)) as s:
        def call():
            body = {"messages": [{"role": "user", "content": "Count to ten."}], "max_tokens": 24,
                    "edge_router": {"force": "local"}}
            resp = requests.post(f"{s.base_url}/v1/chat/completions", json=body, timeout=60)
            result["status"], result["body"] = resp.status_code, resp.json()

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 30
        while not s.server.server_state.tasks:  # the request is being served
            assert time.monotonic() < deadline, "the request never reached the server"
            time.sleep(0.01)
        s.server.should_exit = True  # what SIGTERM/Ctrl-C does
        caller.join(timeout=60)
    assert result["status"] == 200 and result["body"]["choices"][0]["message"]["content"]
    assert not s.thread.is_alive()


def test_text_parts_from_the_official_client_and_n_above_one(served):
    completion = client(served).chat.completions.create(
        model="edge-router", max_tokens=4,
        messages=[{"role": "developer", "content": "Be brief."},
                  {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]}])
    assert completion.choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="'n' must be 1"):
        client(served).chat.completions.create(model="edge-router", n=2, max_tokens=4,
                                               messages=[{"role": "user", "content": "Hi"}])


def test_tool_results_go_to_the_cloud(served):
    completion = client(served).chat.completions.create(
        model="edge-router", max_tokens=4,
        messages=[{"role": "user", "content": "Weather in Oslo?"},
                  {"role": "assistant", "content": None,
                   "tool_calls": [{"id": "c1", "type": "function",
                                   "function": {"name": "weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "4 degrees"},
                  {"role": "user", "content": "So, coat or not?"}])
    info = completion.model_extra["edge_router"]
    assert info["route"] == "cloud" and "tool" in info["reason"]


def test_sampling_parameters_are_honoured_on_both_routes(served, cloud):
    forced = {"x-edge-router-force": "cloud"}
    client(served).chat.completions.create(model="edge-router", messages=[{"role": "user", "content": "Hi"}],
                                           temperature=0.2, top_p=0.5, seed=3, stop=["x"], extra_headers=forced)
    body = cloud.requests[-1]["body"]
    assert (body["temperature"], body["top_p"], body["seed"], body["stop"]) == (0.2, 0.5, 3, ["x"])
    local = {"x-edge-router-force": "local"}
    texts = {client(served).chat.completions.create(
        model="edge-router", messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0, seed=11,
        max_tokens=10, extra_headers=local).choices[0].message.content for _ in range(2)}
    assert len(texts) == 1, "the same seed gives the same local answer"
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client(served).chat.completions.create(model="edge-router", temperature=5,
                                               messages=[{"role": "user", "content": "Hi"}])


def test_a_cut_cloud_stream_is_finished_on_the_device_through_sse(served, cloud):
    cloud.behaviours.append("cut")
    chunks = list(client(served).chat.completions.create(
        model="edge-router", messages=[{"role": "user", "content": "Tell me about tea."}], stream=True,
        max_tokens=8, extra_body={"edge_router": {"force": "cloud"}}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    info = chunks[-1].model_extra["edge_router"]
    assert text.startswith("cloud answer") and len(text) > len("cloud answer to:")
    assert info["fallback_kind"] == "cloud_stream_cut" and info["degraded"] and info["route"] == "local"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_both_routes_failing_is_a_502_through_the_server(served, cloud):
    cloud.behaviours.extend(["500", "500"])
    too_long_for_the_device = "word " * 3000
    resp = requests.post(f"{served.base_url}/v1/chat/completions", timeout=60, json={
        "messages": [{"role": "user", "content": too_long_for_the_device}], "edge_router": {"force": "cloud"}})
    assert resp.status_code == 502, resp.text[:300]
    message = resp.json()["error"]["message"]
    assert "Both routes failed" in message and "HTTP 500" in message and "context window" in message
    assert 'edge_router_fallbacks_total{reason="all_routes_failed"}' in requests.get(
        f"{served.base_url}/metrics", timeout=10).text


def test_fields_the_server_does_not_read_reach_the_cloud_untouched(served, cloud):
    client(served).chat.completions.create(
        model="edge-router", messages=[{"role": "user", "content": "Hi"}], user="u-42", logit_bias={"50256": -100},
        response_format={"type": "text"}, extra_headers={"x-edge-router-force": "cloud"})
    body = cloud.requests[-1]["body"]
    assert body["user"] == "u-42" and body["logit_bias"] == {"50256": -100}
    assert body["response_format"] == {"type": "text"}
    assert "edge_router" not in body and body["model"] == "m"


def test_the_answer_check_decides_before_the_stream_headers(edge):
    from edge_router.uncertainty.answer_check import SIGNALS, AnswerCheck, AnswerProbe

    probe = AnswerProbe(n_tokens=3, weights=np.zeros(len(SIGNALS)), bias=0.0, mean=np.zeros(len(SIGNALS)),
                        scale=np.ones(len(SIGNALS)), embedder_id=None)  # P(wrong) = 0.5 for every answer
    for threshold, route in ((0.4, "cloud"), (0.6, "local")):
        checked = EdgeRouter(local=edge.local, cloud=edge.cloud, embedder=edge.embedder, router=edge.router,
                             max_tokens=12, answer_check=AnswerCheck(probe, threshold))
        with Served(create_app(checked)) as s:
            raw = requests.post(f"{s.base_url}/v1/chat/completions", stream=True, timeout=60, json={
                "model": "edge-router", "stream": True, "messages": [{"role": "user", "content": "Say hi."}]})
            assert raw.headers["x-edge-router-route"] == route == raw.headers["x-edge-router-decided"]
            assert "answer check" in raw.headers["x-edge-router-reason"]
            events = [json.loads(line[6:]) for line in raw.iter_lines(decode_unicode=True)
                      if line.startswith("data: {")]
            info = events[-1]["edge_router"]
            assert info["route"] == route and info["check_tokens"] == 3 and info["check_score"] == 0.5
            text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
            assert (text == "cloud answer to: Say hi.") == (route == "cloud") and text


def test_the_answering_model_is_named_the_same_way_streamed_and_not(served, cloud):
    forced = {"edge_router": {"force": "cloud"}}
    plain = client(served).chat.completions.create(model="edge-router", max_tokens=8, extra_body=forced,
                                                   messages=[{"role": "user", "content": "Hi"}])
    chunks = list(client(served).chat.completions.create(model="edge-router", max_tokens=8, extra_body=forced,
                                                         stream=True, messages=[{"role": "user", "content": "Hi"}]))
    assert plain.model == "cloud:m" and {c.model for c in chunks} == {"cloud:m"}


def test_the_privacy_stage_keeps_personal_data_off_the_cloud_and_says_which_types(served, cloud):
    before = len(cloud.requests)
    with pytest.raises(openai.BadRequestError, match="US_SSN.*cannot be forced to the cloud"):
        client(served).chat.completions.create(
            model="edge-router", max_tokens=8, extra_body={"edge_router": {"force": "cloud"}},
            messages=[{"role": "user", "content": "My SSN is 078-05-1120."}])
    raw = client(served).chat.completions.with_raw_response.create(
        model="edge-router", max_tokens=8, messages=[{"role": "user", "content": "My SSN is 078-05-1120."}])
    assert raw.headers["x-edge-router-privacy"] == "US_SSN" and raw.headers["x-edge-router-route"] == "local"
    assert "078-05-1120" not in raw.headers["x-edge-router-reason"]
    assert len(cloud.requests) == before


def test_a_request_can_ask_for_redaction_and_the_cloud_sees_placeholders(served, cloud):
    raw = client(served).chat.completions.with_raw_response.create(
        model="edge-router", max_tokens=8,
        extra_body={"edge_router": {"force": "cloud", "privacy": "redact"}},
        messages=[{"role": "user", "content": "Write to jane.doe@example.org now."}])
    assert raw.headers["x-edge-router-privacy"] == "EMAIL"
    sent = cloud.requests[-1]["body"]["messages"][-1]["content"]
    assert "jane.doe" not in sent and "<EMAIL_1>" in sent
    assert "jane.doe@example.org" in raw.parse().choices[0].message.content  # the loopback cloud echoes the prompt


def test_a_required_tool_call_goes_to_the_cloud_and_json_mode_is_valid_json_on_the_device(served, cloud):
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}]
    raw = client(served).chat.completions.with_raw_response.create(
        model="edge-router", max_tokens=8, tools=tools, tool_choice="required",
        messages=[{"role": "user", "content": "What is 12 + 7?"}])
    assert raw.headers["x-edge-router-route"] == "cloud" and cloud.requests[-1]["body"]["tools"] == tools
    with pytest.raises(openai.BadRequestError, match="tool call"):
        client(served).chat.completions.create(model="edge-router", max_tokens=8, tools=tools, tool_choice="required",
                                               extra_body={"edge_router": {"force": "local"}},
                                               messages=[{"role": "user", "content": "What is 12 + 7?"}])
    try:
        reply = client(served).chat.completions.create(
            model="edge-router", max_tokens=64, response_format={"type": "json_object"},
            extra_body={"edge_router": {"force": "local"}},
            messages=[{"role": "user", "content": "Give the capital of France as JSON with the key city."}])
    except openai.APIStatusError as exc:  # the device's JSON was invalid or cut: a clear 502, never prose as JSON
        assert exc.status_code == 502 and "JSON" in str(exc)
    else:
        json.loads(reply.choices[0].message.content)
