"""The SDK from many threads at once: the real tiny local model, a loopback cloud that fails on purpose, a real
store and trace; nothing lost, nothing interleaved, every record consistent afterwards."""

from __future__ import annotations

import json
import threading

import pytest

from edge_router import CloudLLM, EdgeRouter
from edge_router.testing import CloudServer, FakeEmbedder, FakeRouter

THREADS, REQUESTS = 16, 50


@pytest.mark.real_models
def test_sixteen_threads_of_mixed_requests_against_a_failing_cloud(local_llm, tmp_path):
    server = CloudServer().start()
    server.behaviours.extend(["500", "ok", "ok", "cut", "ok", "429", "ok", "ok"] * 40)
    server.retry_after = 0
    try:
        cloud = CloudLLM(base_url=server.base_url, model="m", max_retries=1, backoff_base=0.001)
        router = EdgeRouter(local=local_llm, cloud=cloud, router=FakeRouter(), embedder=FakeEmbedder(),
                            max_tokens=3, cloud_share=0.5, store=tmp_path / "d.sqlite3",
                            trace_path=tmp_path / "trace.jsonl", follow_up_margin=0.0)
        answers, errors = [], []
        lock = threading.Lock()

        def work(t: int) -> None:
            for i in range(REQUESTS):
                # FakeRouter scores length / 100 and the 50 % share's threshold is 0.5: long prompts go out
                prompt = f"thread {t} request {i} " + ("x" * 60 if i % 2 else "")
                try:
                    if i % 3:
                        answer = router.chat(prompt)
                    else:
                        with router.stream(prompt) as stream:
                            "".join(stream)
                        answer = stream.answer
                    with lock:
                        answers.append((prompt, answer))
                except Exception as exc:  # noqa: BLE001 - every failure is the test's to report
                    with lock:
                        errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
    finally:
        server.stop()
    assert not errors, errors[:5]
    assert len(answers) == THREADS * REQUESTS
    for prompt, answer in answers:
        if answer.route == "cloud":  # a cloud answer is this prompt's, whole: nothing interleaved
            assert answer.text == f"cloud answer to: {prompt}", (prompt, answer.text)
        else:
            assert answer.model.startswith("smollm2")
    clouds = sum(a.route == "cloud" for _, a in answers)
    degraded = sum(a.degraded for _, a in answers)
    assert clouds > 0 and degraded > 0, (clouds, degraded)  # both routes and the faults were exercised
    ids = {a.decision.id for _, a in answers}
    assert len(ids) == len(answers) and router.store.count() == len(answers)
    traced = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in traced if r["event"] == "answer") == sorted(ids)
