"""``ChatEdgeRouter`` through LangChain's own standard suites (``langchain-tests``): the unit suite, and the
integration suite twice, answered on the device (the tiny model) and by a loopback cloud; then what the suites do
not cover: the decision in the message's metadata, per-call options, refusals."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason="the langchain extra is not installed (make test installs it)")
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_tests.integration_tests import ChatModelIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import ChatModelUnitTests  # noqa: E402

from edge_router import CloudLLM, EdgeRouter  # noqa: E402
from edge_router.errors import InvalidInputError  # noqa: E402
from edge_router.integrations.langchain import ChatEdgeRouter, to_messages  # noqa: E402
from edge_router.testing import CloudServer, FakeEmbedder, FakeLocal, FakeRouter  # noqa: E402

SHARED: dict = {}


@pytest.fixture(scope="module", autouse=True)
def shared_router(local_llm):
    """One router for every test here: the tiny local model and a loopback cloud, with a router that scores
    short prompts low (``FakeRouter``)."""
    server = CloudServer().start()
    router = EdgeRouter(local=local_llm, cloud=CloudLLM(base_url=server.base_url, model="loopback-cloud"),
                        embedder=FakeEmbedder(), router=FakeRouter(), threshold=0.5, max_tokens=48)
    SHARED.update(router=router, server=server)
    yield router
    server.stop()


class TestChatEdgeRouterUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatEdgeRouter]:
        return ChatEdgeRouter

    @property
    def chat_model_params(self) -> dict:
        return {"model": "edge-router", "settings": {"cloud_share": 0.3}}

    @property
    def supports_model_override(self) -> bool:
        return False  # the decision picks the model; per call, endpoint= names a cloud endpoint


class OnDevice(ChatModelIntegrationTests):
    force = "local"

    @property
    def chat_model_class(self) -> type[ChatEdgeRouter]:
        return ChatEdgeRouter

    @property
    def chat_model_params(self) -> dict:
        return {"router": SHARED["router"], "force": self.force}

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False


class TestChatEdgeRouterOnDevice(OnDevice):
    force = "local"


class TestChatEdgeRouterInTheCloud(OnDevice):
    force = "cloud"


@pytest.mark.real_models
def test_the_reply_carries_the_decision_usage_and_the_model_that_answered():
    chat = ChatEdgeRouter(router=SHARED["router"])
    short = chat.invoke("2 + 2?")
    assert short.response_metadata["edge_router"]["route"] == "local"
    assert short.response_metadata["model_name"] == SHARED["router"].local.id
    assert short.usage_metadata["output_tokens"] > 0
    long = chat.invoke("Explain, in detail and with examples, how a transformer language model answers a question.")
    assert long.response_metadata["edge_router"]["route"] == "cloud"
    assert long.content.startswith("cloud answer to: Explain")
    assert long.response_metadata["model_name"] == "loopback-cloud"


@pytest.mark.real_models
async def test_per_call_options_and_streams_end_with_the_decision():
    chat = ChatEdgeRouter(router=SHARED["router"])
    reply = await chat.ainvoke("2 + 2?", force="cloud")
    assert reply.response_metadata["edge_router"]["route"] == "cloud"
    chunks = [chunk async for chunk in chat.astream("2 + 2?", force="cloud")]
    assert "".join(c.content for c in chunks) == "cloud answer to: 2 + 2?"
    assert chunks[-1].response_metadata["edge_router"]["reason"] and chunks[-1].chunk_position == "last"


def test_private_data_stays_on_the_device_through_langchain():
    server = CloudServer().start()
    try:
        router = EdgeRouter(local=FakeLocal(answers=["kept"]), cloud=CloudLLM(base_url=server.base_url, model="m"),
                            embedder=FakeEmbedder(), router=FakeRouter(), threshold=0.0)
        reply = ChatEdgeRouter(router=router).invoke("My SSN is 078-05-1120, can you fill in the tax form?")
        assert reply.content == "kept" and reply.response_metadata["edge_router"]["privacy"] == ("US_SSN",)
        assert server.requests == []
    finally:
        server.stop()


def test_messages_are_translated_and_unusable_options_refused():
    router = EdgeRouter(local=FakeLocal(answers=["ok"]), embedder=FakeEmbedder(), router=FakeRouter())
    chat = ChatEdgeRouter(router=router)
    reply = chat.invoke([HumanMessage("hello", name="ann"), AIMessage("hi"), HumanMessage("2 + 2?")])
    assert reply.content == "ok"
    with pytest.raises(InvalidInputError, match="endpoint="):
        chat.invoke("hello", model="gpt-4o")
    with pytest.raises(InvalidInputError, match="does not take top_k"):
        chat.invoke("hello", top_k=3)
    assert to_messages([HumanMessage("hello", name="ann"), ToolMessage("42", tool_call_id="c1")]) == [
        {"role": "user", "content": "hello", "name": "ann"}, {"role": "tool", "content": "42", "tool_call_id": "c1"}]
    with pytest.raises(InvalidInputError, match="ChatMessage"):
        chat.invoke([ChatMessage(role="narrator", content="once")])
