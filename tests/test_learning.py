"""Learning from the app's traffic: a real SQLite store, feedback, a learned version checked before adoption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from edge_router import EdgeRouter
from edge_router.errors import ConfigurationError, InvalidInputError
from edge_router.learning.memory import FeedbackMemory
from edge_router.learning.store import DecisionStore
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter


def _router(tmp_path, **kwargs) -> EdgeRouter:
    return EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                      max_tokens=10, store=tmp_path / "decisions.sqlite3", **kwargs)


def test_every_answer_is_stored_with_its_embedding_and_feedback_labels_it(tmp_path):
    router = _router(tmp_path)
    answer = router.chat("x" * 20)
    streamed = router.stream("y" * 90)
    "".join(streamed)
    row = router.store.get(answer.decision.id)
    assert row["route"] == "local" and row["score"] == pytest.approx(0.2) and row["prompt"] is None
    assert router.store.get(streamed.answer.decision.id)["route"] == "cloud"
    router.feedback(answer, local_ok=False)
    router.feedback(streamed.answer.decision.id, local_ok=True)
    labelled = list(router.store.labelled("fake-embedder"))
    assert [(i, ok) for i, _, ok in labelled] == [(answer.decision.id, False), (streamed.answer.decision.id, True)]
    assert labelled[0][1].tolist() == pytest.approx([0.2], abs=1e-3)
    with pytest.raises(InvalidInputError, match="no stored decision has the id 'nope'"):
        router.feedback("nope", local_ok=True)
    with pytest.raises(InvalidInputError, match="True or False"):
        router.feedback(answer, local_ok="yes")


def test_prompts_are_kept_only_when_asked_and_never_when_private(tmp_path):
    store = DecisionStore(tmp_path / "d.sqlite3", keep_prompts=True)
    router = EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                        max_tokens=10, store=store)
    plain = router.chat("What is the capital of France?")
    private = router.chat("Email john.smith@example.com the minutes")
    assert store.get(plain.decision.id)["prompt"] == "What is the capital of France?"
    row = store.get(private.decision.id)
    assert row["private"] == 1 and row["prompt"] is None


def test_without_a_store_feedback_says_how_to_get_one():
    router = EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder())
    answer = router.chat("hi")
    with pytest.raises(ConfigurationError, match="store=PATH"):
        router.feedback(answer, local_ok=True)


def test_the_store_keeps_the_newest_rows_and_takes_many_threads(tmp_path):
    router = _router(tmp_path)
    router.store.max_rows = 50

    def work():
        for i in range(20):
            router.chat("z" * (i + 1))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert router.store.count() == 50


def test_a_killed_process_loses_no_committed_row(tmp_path):
    path = tmp_path / "d.sqlite3"
    code = f"""
import os, signal, sys
from edge_router import EdgeRouter
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter
router = EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                    store={str(path)!r})
for i in range(25):
    router.chat("q" * (i + 1))
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL and "written" in done.stdout
    assert DecisionStore(path).count() == 25


def test_the_memory_moves_scores_near_reported_queries_only():
    rng = np.random.default_rng(0)
    kind = rng.normal(size=8)
    near = kind + 0.3 * rng.normal(size=(30, 8))
    far = rng.normal(size=(30, 8))
    unit = lambda a: (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)  # noqa: E731
    memory = FeedbackMemory(unit(near), np.ones(30, np.float32))
    new_near, new_far = unit(kind + 0.3 * rng.normal(size=(10, 8))), unit(-kind + 0.1 * rng.normal(size=(10, 8)))
    base = np.full(10, 0.3)
    assert np.all(memory.adjust(base, new_near) > 0.7), "a query like the reported ones goes to the cloud"
    np.testing.assert_allclose(memory.adjust(base, new_far), base, atol=1e-6)
    assert far.shape == (30, 8)


ARITHMETIC = "{name} has {a} marbles and buys {b} bags with {c} marbles each. How many marbles does {name} have now?"
CAPITALS = ["France", "Japan", "Italy", "Kenya", "Peru", "Canada", "Norway", "Egypt", "Chile", "India", "Spain",
            "Greece", "Brazil", "Mexico", "Ghana", "Poland", "Sweden", "Turkey", "Vietnam", "Austria"]
CODING = ["Write a Python function that reverses a linked list.", "Write a SQL query that counts orders per customer.",
          "Write a bash one-liner that finds the largest file in a folder."]


@pytest.mark.real_models
def test_reported_bad_answers_send_that_kind_to_the_cloud_and_leave_other_kinds(tmp_path, embedder):
    from edge_router import RouterModel
    from edge_router.files.shipped import shipped_router

    base = RouterModel(shipped_router(), embedder_id=embedder.id, dim=embedder.dim)
    store = tmp_path / "d.sqlite3"
    router = EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=base, embedder=embedder,
                        max_tokens=10, store=store, follow_up_margin=0.0)
    names = ["Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana"]
    for i in range(40):  # the app says: the device gets these wrong
        question = ARITHMETIC.format(name=names[i % 8], a=3 + i, b=2 + i % 5, c=4 + i % 7)
        router.feedback(router.chat(question), local_ok=False)
    for country in CAPITALS:  # ... and these right
        router.feedback(router.chat(f"What is the capital of {country}?"), local_ok=True)
    new = [ARITHMETIC.format(name=n, a=50 + i, b=3, c=9) for i, n in enumerate(["Ivy", "Jon", "Kim"])]
    before_new, before_coding = router.route(new[0]).score, [router.route(q).score for q in CODING]
    card = router.learn()
    assert card["adopted"], card
    held = card["held_out_auroc_local_bad"]
    assert held["after"] is not None and held["after"] >= held["before"]
    after_new = [router.route(q) for q in new]
    assert all(d.route == "cloud" for d in after_new) and after_new[0].score > before_new
    np.testing.assert_allclose([router.route(q).score for q in CODING], before_coding, atol=1e-6)

    again = EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=base, embedder=embedder, store=store)
    assert again.router.id.endswith(card["version"]), "an adopted version is used by routers built later"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
    run = lambda *a: subprocess.run([sys.executable, "-m", "edge_router", *a, "--store", str(store)],  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=300)
    assert f"* {card['version']}" in run("router", "history").stdout
    assert "the shipped router" in run("router", "rollback").stdout
    assert EdgeRouter(local=FakeLocal(n_ctx=500), cloud=FakeCloud(), router=base, embedder=embedder,
                      store=store).router is base


def test_serve_takes_feedback_on_a_response_id(tmp_path):
    import requests
    from test_server import Served

    from edge_router.serving.server import create_app

    router = _router(tmp_path)
    with Served(create_app(router)) as served:
        url = f"{served.base_url}/v1"
        reply = requests.post(f"{url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                              timeout=30).json()
        assert requests.post(f"{url}/feedback", json={"id": reply["id"], "local_ok": False}, timeout=30).ok
        assert router.store.get(reply["id"].removeprefix("chatcmpl-"))["local_ok"] == 0
        missing = requests.post(f"{url}/feedback", json={"id": "chatcmpl-nope", "local_ok": True}, timeout=30)
        assert missing.status_code == 404 and "no stored decision" in missing.json()["error"]["message"]
        bad = requests.post(f"{url}/feedback", json={"id": reply["id"]}, timeout=30)
        assert bad.status_code == 400 and "local_ok" in bad.json()["error"]["message"]


def test_shadow_labels_ask_the_cloud_again_within_the_daily_budget_and_never_for_private_queries(tmp_path):
    from edge_router import CloudLLM, ExactMatchClusterer, Prices
    from edge_router.testing import CloudServer

    server = CloudServer().start()
    try:
        server.answer = lambda messages: "local answer"  # the stand-in agrees with FakeLocal
        cloud = CloudLLM(base_url=server.base_url, model="m", max_retries=0, prices=Prices(1000.0, 1000.0))
        router = EdgeRouter(local=FakeLocal(n_ctx=500), cloud=cloud, router=FakeRouter(), embedder=FakeEmbedder(),
                            max_tokens=10, store=tmp_path / "d.sqlite3", shadow_share=1.0, shadow_budget_usd=0.01,
                            shadow_clusterer=ExactMatchClusterer())
        first = router.chat("x" * 20)
        router.routes.shadow.wait()
        row = router.store.get(first.decision.id)
        assert (row["local_ok"], row["label_source"]) == (1, "shadow") and len(server.requests) == 1
        private = router.chat("Email john.smith@example.com the plan")
        router.routes.shadow.wait()
        assert router.store.get(private.decision.id)["local_ok"] is None and len(server.requests) == 1
        assert router.routes.shadow.spent_today() > 0.01, "the stand-in's usage at these prices spent the budget"
        later = router.chat("y" * 20)
        router.routes.shadow.wait()
        assert router.store.get(later.decision.id)["local_ok"] is None and len(server.requests) == 1
    finally:
        server.stop()
    with pytest.raises(ConfigurationError, match="prices"):
        EdgeRouter(local=FakeLocal(n_ctx=500), cloud=CloudLLM(base_url="http://127.0.0.1:9/v1", model="m"),
                   router=FakeRouter(), embedder=FakeEmbedder(), store=tmp_path / "e.sqlite3", shadow_share=0.5)
