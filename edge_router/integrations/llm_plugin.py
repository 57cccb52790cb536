"""A plugin for the ``llm`` command line (the ``llm`` extra): ``llm -m edge-router "..."`` answers on the device
or in the cloud, as edge-router decides.

The router is ``EdgeRouter.from_defaults()``, built on the first prompt from the environment
(``EDGE_ROUTER_CLOUD_*`` for the cloud, ``EDGE_ROUTER_SETTINGS`` for a settings file). Options per prompt:
``-o force local|cloud``, ``-o privacy keep-local|redact|off``, ``-o max_tokens N``, ``-o temperature T``.
The decision is kept in the response's JSON (``llm logs --json``), the model that answered as the resolved
model, and the token counts as usage. Conversations (``llm -c``) send the earlier turns.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator, Literal, Optional

import llm
from pydantic import Field

from ..backends.completions import Sampling

SETTINGS_ENV = "EDGE_ROUTER_SETTINGS"


def messages_of(prompt: Any, conversation: Any) -> list[dict[str, str]]:
    """The conversation so far, then ``prompt``, as chat messages."""
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    for past in conversation.responses if conversation else []:
        messages += [{"role": "user", "content": past.prompt.prompt}, {"role": "assistant", "content": past.text()}]
    return messages + [{"role": "user", "content": prompt.prompt}]


class EdgeRouterModel(llm.Model):
    model_id = "edge-router"
    can_stream = True

    class Options(llm.Options):
        force: Optional[Literal["local", "cloud"]] = Field(None, description="answer on this side, skipping the "
                                                                                 "decision (never past privacy)")
        privacy: Optional[Literal["keep-local", "redact", "off"]] = Field(None, description="the privacy mode")
        max_tokens: Optional[int] = Field(None, description="answer length limit", gt=0)
        temperature: Optional[float] = Field(None, description="sampling temperature", ge=0, le=2)

    def __init__(self) -> None:
        self._router: Any = None
        self._lock = threading.Lock()

    def router(self) -> Any:
        with self._lock:
            if self._router is None:
                from ..routing.runtime import EdgeRouter

                self._router = EdgeRouter.from_defaults(settings_file=os.environ.get(SETTINGS_ENV) or None)
            return self._router

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any) -> Iterator[str]:
        options = prompt.options
        call = {"force": options.force, "privacy": options.privacy, "max_tokens": options.max_tokens,
                "sampling": Sampling(temperature=options.temperature) if options.temperature is not None else None}
        messages = messages_of(prompt, conversation)
        if stream:
            with self.router().stream(messages, **call) as pieces:
                yield from pieces
            answer = pieces.answer
        else:
            answer = self.router().chat(messages, **call)
            yield answer.text
        if answer is None:
            return
        response.response_json = {key: value for key, value in answer.to_dict().items() if key != "answer"}
        response.set_resolved_model(answer.model)
        if answer.usage is not None:
            response.set_usage(input=answer.usage.prompt_tokens, output=answer.usage.completion_tokens)


@llm.hookimpl
def register_models(register: Any) -> None:
    register(EdgeRouterModel())
