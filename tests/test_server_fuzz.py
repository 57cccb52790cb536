"""500 generated malformed requests against a real `edge-router serve` on loopback: none gets a 5xx, each refused
one a 4xx with an OpenAI-style error object (the few that a generator makes valid by chance are answered), and
the server log holds no traceback."""

from __future__ import annotations

import json
import logging
import random

import numpy as np
import pytest
import requests
from onnx_builders import logistic_router
from test_server import Served

from edge_router import CloudLLM, EdgeRouter, RouterModel
from edge_router.loopback.fault_server import CloudServer
from edge_router.serving.server import create_app

GOOD = {"role": "user", "content": "Hi"}
BAD_VALUES = [None, True, -1, 0, 1.5, "", "x" * 300, [], {}, [None], {"a": 1}, float("inf"), -0.0, 10**30, "\udcff"]
FIELDS = ["messages", "stream", "max_tokens", "max_completion_tokens", "model", "n", "temperature", "top_p",
          "seed", "stop", "presence_penalty", "frequency_penalty", "edge_router"]


def _body(rng: random.Random) -> tuple[bytes, dict]:
    """One malformed request: a body (bytes) and headers."""
    kind = rng.randrange(8)
    headers = {"Content-Type": "application/json"}
    if kind == 0:  # not JSON, or broken JSON, or not UTF-8
        return rng.choice([b"{", b"nul", b"\xff\xfe{}", b"[1,2", b"{'a': 1}", b"", b"\x00" * 10]), headers
    if kind == 1:  # JSON, but not an object
        return json.dumps(rng.choice([[], [GOOD], "hi", 3, None, True])).encode(), headers
    body: dict = {"messages": [GOOD]}
    field = rng.choice(FIELDS)
    value = rng.choice(BAD_VALUES)
    if kind == 2:  # one field with a wrong value
        body[field] = value
    elif kind == 3:  # broken messages
        body["messages"] = rng.choice([
            [{"role": rng.choice(["", "bot", None, 5]), "content": "x"}], [{"content": "x"}], [{"role": "user"}],
            [{"role": "user", "content": value}], [GOOD, 7], [{"role": "user", "content": [{"type": "image_url"}]}],
            [{"role": "user", "content": [{"type": "text"}]}], [{"role": "assistant", "content": "only me"}],
        ])
    elif kind == 4:  # bad per-request options
        body["edge_router"] = rng.choice([{"force": value}, {"cloud_share": value}, {"route": "moon"}, value])
        if not isinstance(body["edge_router"], (dict, type(None))) or body["edge_router"] == {}:
            body["edge_router"] = {"force": "sideways"}
    elif kind == 5:  # bad option headers
        headers[rng.choice(["x-edge-router-force", "x-edge-router-cloud-share"])] = rng.choice(
            ["moon", "-1", "2", "nan", "1e400", "", "0"])
    elif kind == 6:  # out-of-range sampling
        body[rng.choice(["temperature", "top_p", "presence_penalty", "frequency_penalty"])] = rng.choice(
            [-1, 3, 100, "hot", [0.5]])
    else:  # an oversized body
        body["messages"] = [{"role": "user", "content": "x" * 1_100_000}]
    text = json.dumps(body, allow_nan=True, ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass"), headers


@pytest.fixture(scope="module")
def served(local_llm, embedder, tmp_path_factory):
    path = logistic_router(tmp_path_factory.mktemp("router") / "r.onnx", np.zeros(embedder.dim, np.float32), -4.0,
                           embedder_id=embedder.id)
    cloud = CloudServer().start()
    edge = EdgeRouter(local=local_llm, cloud=CloudLLM(base_url=cloud.base_url, model="m"), embedder=embedder,
                      router=RouterModel(path, embedder_id=embedder.id, dim=embedder.dim), max_tokens=4)
    with Served(create_app(edge)) as s:
        yield s
    cloud.stop()


def test_500_malformed_requests_get_4xx_and_no_traceback(served, caplog):
    rng = random.Random(20261129)
    statuses = []
    with caplog.at_level(logging.WARNING), requests.Session() as session:
        for _ in range(500):
            data, headers = _body(rng)
            resp = session.post(f"{served.base_url}/v1/chat/completions", data=data, headers=headers, timeout=30)
            statuses.append(resp.status_code)
            assert resp.status_code < 500, (resp.status_code, data[:200], resp.text[:300])
            if resp.status_code != 200:
                assert 400 <= resp.status_code < 500 and resp.json()["error"]["message"], resp.text[:300]
    assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text
    assert statuses.count(400) > 400
