"""``AsyncEdgeRouter`` under an event loop: many concurrent routed requests with cancellations and cloud faults,
nothing lost, nothing left holding the local model."""

from __future__ import annotations

import asyncio
import time

import pytest

from edge_router import AsyncEdgeRouter, CloudLLM, EdgeRouter
from edge_router.testing import CloudServer, FakeEmbedder, FakeRouter


@pytest.mark.real_models
def test_fifty_concurrent_requests_with_cancellations_and_faults(local_llm):
    server = CloudServer().start()
    server.behaviours.extend(["500", "ok", "ok", "ok"] * 20)
    try:
        cloud = CloudLLM(base_url=server.base_url, model="m", max_retries=0)
        router = AsyncEdgeRouter(EdgeRouter(local=local_llm, cloud=cloud, router=FakeRouter(),
                                            embedder=FakeEmbedder(), max_tokens=6, cloud_share=0.5))

        async def one(i: int):
            prompt = f"request {i} " + ("x" * 60 if i % 2 else "")  # the long ones go to the cloud
            if i % 3 == 0:
                async with await router.astream(prompt) as stream:
                    text = "".join([piece async for piece in stream])
                return prompt, text, stream.answer
            answer = await router.achat(prompt)
            return prompt, answer.text, answer

        async def cancelled(i: int):
            stream = await router.astream(f"cancelled {i}", force="local", max_tokens=64)
            async for _ in stream:
                await asyncio.sleep(10)  # the task is cancelled while the stream is open

        async def main():
            tasks = [asyncio.create_task(one(i)) for i in range(50)]
            doomed = [asyncio.create_task(cancelled(i)) for i in range(5)]
            await asyncio.sleep(0.5)
            for task in doomed:
                task.cancel()
            results = await asyncio.gather(*tasks)
            outcomes = await asyncio.gather(*doomed, return_exceptions=True)
            started = time.perf_counter()
            after = await asyncio.wait_for(router.achat("hi", force="local", max_tokens=2), timeout=60)
            return results, outcomes, after, time.perf_counter() - started

        results, outcomes, after, seconds = asyncio.run(main())
    finally:
        server.stop()
    assert len(results) == 50 and all(a is not None for _, _, a in results)
    for prompt, text, answer in results:
        if answer.route == "cloud":
            assert text == f"cloud answer to: {prompt}"
    assert any(a.degraded for _, _, a in results), "the 500s fell back to the device"
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert after.route == "local" and seconds < 30, "a cancelled stream let the local model go"


def _slow_cloud(server: CloudServer, seconds: float) -> dict:
    """``server`` answers after ``seconds``; the returned dict keeps the most requests it held at once."""
    import threading

    from edge_router.loopback.fault_server import answer_for

    state, lock = {"now": 0, "peak": 0}, threading.Lock()

    def answer(messages):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(seconds)
        with lock:
            state["now"] -= 1
        return answer_for(messages)

    server.answer = answer
    return state


def test_achat_holds_no_thread_while_the_cloud_answers():
    """40 cloud answers at once: with a blocking client in worker threads at most the pool's 32 threads could
    wait on the cloud together; over the async client all 40 requests are in flight at the same time."""
    server = CloudServer().start()
    state = _slow_cloud(server, 1.0)
    try:
        router = AsyncEdgeRouter(EdgeRouter(local=None, cloud=CloudLLM(base_url=server.base_url, model="m"),
                                            router=FakeRouter(), embedder=FakeEmbedder(), threshold=0.0))
        assert router.native()

        async def main():
            answers = await asyncio.gather(*(router.achat(f"question {i}") for i in range(40)))
            await router.aclose()
            return answers

        answers = asyncio.run(main())
    finally:
        server.stop()
    assert [a.text for a in answers] == [f"cloud answer to: question {i}" for i in range(40)]
    assert all(a.route == "cloud" and a.decision.cloud_attempts for a in answers)
    assert state["peak"] == 40


def test_async_cloud_retries_falls_back_along_the_chain_and_to_the_device():
    from edge_router.testing import FakeLocal

    first, second = CloudServer().start(), CloudServer().start()
    first.behaviours.extend(["500"] * 2)
    try:
        clouds = [CloudLLM(base_url=first.base_url, model="a", name="a", max_retries=1, backoff_base=0.01),
                  CloudLLM(base_url=second.base_url, model="b", name="b")]
        router = AsyncEdgeRouter(EdgeRouter(local=FakeLocal(answers=["device"] * 3), cloud=clouds,
                                            router=FakeRouter(), embedder=FakeEmbedder(), threshold=0.0))
        chained = asyncio.run(router.achat("hello"))
        assert chained.text == "cloud answer to: hello" and not chained.degraded
        assert [(a["endpoint"], a["error"] is None) for a in chained.decision.cloud_attempts] == [("a", False),
                                                                                                 ("b", True)]
        assert len(first.requests) == 2, "one retry on the first endpoint"
        first.behaviours.extend(["401"]), second.behaviours.extend(["401"])
        degraded = asyncio.run(router.achat("hello"))
        assert degraded.text == "device" and degraded.degraded and "HTTP 401" in degraded.decision.fallback
    finally:
        first.stop()
        second.stop()


def test_a_cancelled_async_cloud_call_leaves_nothing_behind():
    server = CloudServer().start()
    _slow_cloud(server, 2.0)
    try:
        router = AsyncEdgeRouter(EdgeRouter(local=None, cloud=CloudLLM(base_url=server.base_url, model="m"),
                                            router=FakeRouter(), embedder=FakeEmbedder(), threshold=0.0))

        async def main():
            task = asyncio.create_task(router.achat("slow"))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            server.answer = lambda messages: "fast"
            return await router.achat("next")

        assert asyncio.run(main()).text == "fast"
        assert router.router.routes.clouds.breaker().state()["state"] == "closed"
    finally:
        server.stop()
