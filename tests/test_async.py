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
