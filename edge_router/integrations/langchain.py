"""``ChatEdgeRouter``: edge-router as a LangChain chat model (the ``langchain`` extra).

Every call goes through the same decision as ``EdgeRouter.chat``: privacy first, then the router, fallbacks and
records. The answer's message carries the decision in ``response_metadata["edge_router"]`` (route, reason, score,
fallback, ...), the model that answered in ``response_metadata["model_name"]`` and the token counts in
``usage_metadata``. ``invoke``, ``stream``, ``ainvoke`` and ``astream`` work; ``ainvoke`` goes through
``AsyncEdgeRouter`` (the cloud over an async HTTP client where ``httpx`` is installed). Tool calling and
structured output are not offered: the device model does not call tools.

    from edge_router.integrations.langchain import ChatEdgeRouter
    chat = ChatEdgeRouter(settings={"cloud_share": 0.3})         # EdgeRouter.from_defaults(**settings), built once
    reply = chat.invoke("What is the capital of France?")
    print(reply.content, reply.response_metadata["edge_router"]["route"])
"""

from __future__ import annotations

import threading
from typing import Any, AsyncIterator, Iterator, Literal

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from ..backends.completions import Sampling
from ..errors import InvalidInputError
from ..routing.async_api import AsyncEdgeRouter
from ..routing.decision import Answer

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def to_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the OpenAI-style dicts ``EdgeRouter`` reads; other kinds are refused clearly."""
    out = []
    for i, message in enumerate(messages):
        role = ROLES.get(message.type)
        if role is None:
            raise InvalidInputError(f"message {i} is a {type(message).__name__}; edge-router reads human, ai, "
                                    "system and tool messages.")
        entry: dict[str, Any] = {"role": role, "content": message.content}
        if message.name:
            entry["name"] = message.name
        if role == "tool":
            entry["tool_call_id"] = message.tool_call_id
        out.append(entry)
    return out


def usage_of(answer: Answer) -> dict[str, int] | None:
    """LangChain's ``usage_metadata`` for ``answer`` (None where the model that answered reported none)."""
    if answer.usage is None:
        return None
    return {"input_tokens": answer.usage.prompt_tokens, "output_tokens": answer.usage.completion_tokens,
            "total_tokens": answer.usage.prompt_tokens + answer.usage.completion_tokens}


def metadata_of(answer: Answer) -> dict[str, Any]:
    return {"model_name": answer.model, "finish_reason": answer.finish_reason, "cost_usd": answer.cost_usd,
            "edge_router": answer.decision.to_dict()}


class ChatEdgeRouter(BaseChatModel):
    """A LangChain chat model that answers on the device or in the cloud, as edge-router decides.

    ``router`` is an ``EdgeRouter`` to share (several chat models may use one); without it the model builds
    ``EdgeRouter.from_defaults(**settings)`` on its first call (``settings``: ``RouterSettings`` fields), with
    ``timeout`` as each cloud endpoint's deadline and ``max_retries`` as its retries. ``temperature`` and
    ``stop`` apply on whichever side answers; ``force``, ``privacy`` and ``endpoint`` are ``EdgeRouter.chat``'s
    options, and any of them may also be given per call (``chat.invoke(text, force="local")``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    router: Any = Field(default=None, exclude=True)
    settings: dict[str, Any] = Field(default_factory=dict)
    model_name: str = Field(default="edge-router", alias="model")
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    timeout: float | None = None
    max_retries: int | None = None
    streaming: bool = False
    force: Literal["local", "cloud"] | None = None
    privacy: str | None = None
    endpoint: str | None = None

    _built: Any = PrivateAttr(default=None)
    _async: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "edge-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "settings": self.settings, "force": self.force,
                "privacy": self.privacy}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "edge-router"
        params["ls_model_name"] = kwargs.get("model", self.model_name)
        return params

    def edge_router(self) -> Any:
        """The ``EdgeRouter`` behind this model: the one given, or the one built from ``settings`` on first use."""
        if self.router is not None:
            return self.router
        with self._lock:
            if self._built is None:
                from ..routing.runtime import EdgeRouter

                router = EdgeRouter.from_defaults(**self.settings)
                for cloud in router.clouds:
                    if self.timeout is not None:
                        cloud.deadline_s = cloud.first_byte_s = self.timeout
                    if self.max_retries is not None:
                        cloud.max_retries = self.max_retries
                self._built = router
            return self._built

    def _async_router(self) -> AsyncEdgeRouter:
        """``edge_router()`` behind one ``AsyncEdgeRouter``, made once."""
        router = self.edge_router()
        if self._async is None or self._async.router is not router:
            self._async = AsyncEdgeRouter(router)
        return self._async

    def _options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``EdgeRouter.chat``'s options for one call: this model's, then the call's."""
        if "model" in kwargs:
            raise InvalidInputError("ChatEdgeRouter's decision picks the model that answers; name the cloud "
                                    "endpoint to try first with endpoint=, or force='local' / 'cloud'.")
        unknown = set(kwargs) - {"force", "privacy", "endpoint", "temperature", "max_tokens"}
        if unknown:
            raise InvalidInputError(f"ChatEdgeRouter does not take {', '.join(sorted(unknown))}; it takes force, "
                                    "privacy, endpoint, temperature and max_tokens per call.")
        stops = tuple(stop if stop is not None else self.stop or ())
        temperature = kwargs.get("temperature", self.temperature)
        return {
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "sampling": Sampling(temperature=temperature, stop=stops) if temperature is not None or stops else None,
            **{name: kwargs.get(name, getattr(self, name)) for name in ("force", "privacy", "endpoint")},
        }

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        answer = self.edge_router().chat(to_messages(messages), **self._options(stop, kwargs))
        return self._result(answer)

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                         **kwargs: Any) -> ChatResult:
        answer = await self._async_router().achat(to_messages(messages), **self._options(stop, kwargs))
        return self._result(answer)

    def _result(self, answer: Answer) -> ChatResult:
        message = AIMessage(content=answer.text, response_metadata=metadata_of(answer),
                            usage_metadata=usage_of(answer))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        with self.edge_router().stream(to_messages(messages), **self._options(stop, kwargs)) as stream:
            for piece in stream:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        yield self._last_chunk(stream.answer)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        stream = await self._async_router().astream(to_messages(messages), **self._options(stop, kwargs))
        async with stream:
            async for piece in stream:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    await run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        yield self._last_chunk(stream.answer)

    @staticmethod
    def _last_chunk(answer: Answer | None) -> ChatGenerationChunk:
        """The stream's closing chunk: no text; the decision, the model and the usage."""
        if answer is None:
            return ChatGenerationChunk(message=AIMessageChunk(content="", chunk_position="last"))
        return ChatGenerationChunk(message=AIMessageChunk(
            content="", response_metadata=metadata_of(answer), usage_metadata=usage_of(answer),
            chunk_position="last"))
