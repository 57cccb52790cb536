"""The cloud stand-in's HTTP server: an OpenAI-compatible chat endpoint over one ``LocalLLM``.

``n`` > 1 (or any temperature above 0) samples through ``LocalLLM.sample``, so the k answers share one prefill,
with token log-probabilities (``logprobs``) from the model's full distribution, the same sampler the device
side uses; temperature 0 (the default) answers greedily. Streams as server-sent events with usage in the last
chunk. Run by ``StandinServer``:

    python -m edge_router.loopback.standin_app --model NAME_OR_GGUF --port 8091 [--n-ctx 2048] [--threads N]
        [--repeat-penalty 1.1]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from .. import defaults
from ..backends.local_llm import LocalLLM
from ..errors import EdgeRouterError, InvalidInputError, require

MODEL_ALIAS = "standin"


def _max_tokens(request: dict) -> Any:
    return request.get("max_completion_tokens") or request.get("max_tokens") or defaults.MAX_TOKENS


def _body(llm: LocalLLM, request: dict) -> dict:
    """The chat completion for one checked request (``n`` choices)."""
    messages = request.get("messages")
    max_tokens = _max_tokens(request)
    temperature = float(request.get("temperature") or 0.0)
    n = request.get("n") or 1
    if not isinstance(n, int) or n < 1:
        raise InvalidInputError("'n' must be a positive integer.")
    prompt_tokens = len(llm.prompt_tokens(messages))
    if n == 1 and temperature == 0.0:
        completion = llm.chat(messages, max_tokens=max_tokens)
        choices = [{"index": 0, "message": {"role": "assistant", "content": completion.text},
                    "finish_reason": completion.finish_reason, "logprobs": None}]
        completion_tokens = completion.usage.completion_tokens
    else:
        samples = llm.sample(messages, n, temperature=temperature, max_tokens=max_tokens)
        want_logprobs = bool(request.get("logprobs"))
        choices = [{"index": i, "message": {"role": "assistant", "content": s.text},
                    "finish_reason": "length" if len(s.token_logprobs) >= max_tokens else "stop",
                    "logprobs": {"content": [{"token": "", "logprob": lp} for lp in s.token_logprobs]}
                    if want_logprobs else None} for i, s in enumerate(samples)]
        completion_tokens = sum(len(s.token_logprobs) for s in samples)
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": MODEL_ALIAS, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def create_app(llm: LocalLLM) -> Any:
    """The ASGI app: ``POST /v1/chat/completions``, ``GET /v1/models``."""
    fastapi = require("fastapi", "'edge-router[server]'")
    from fastapi.responses import JSONResponse, StreamingResponse

    app = fastapi.FastAPI(title="edge-router cloud stand-in", docs_url=None, redoc_url=None, openapi_url=None)

    def error(status: int, message: str) -> Any:
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=status)

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": MODEL_ALIAS, "object": "model", "owned_by": llm.id}]}

    @app.post("/v1/chat/completions")
    def chat(request: dict):  # a sync handler: FastAPI runs it in a thread; the model's lock orders calls
        try:
            if request.get("stream"):
                stream = llm.stream(request.get("messages"), max_tokens=_max_tokens(request),
                                    temperature=float(request.get("temperature") or 0.0))
                return StreamingResponse(_events(stream), media_type="text/event-stream")
            return _body(llm, request)
        except EdgeRouterError as exc:
            return error(400, str(exc))

    return app


def _events(stream: Any):
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": MODEL_ALIAS,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant"})
    for piece in stream:
        yield chunk({"content": piece})
    usage = stream.completion.usage
    yield chunk({}, stream.completion.finish_reason, usage={
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens})
    yield "data: [DONE]\n\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a registry name or a GGUF path")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=defaults.N_CTX)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sequential", action="store_true",
                        help="answer n > 1 by sampling one answer after another (default: one batch)")
    parser.add_argument("--repeat-penalty", type=float, default=defaults.REPEAT_PENALTY,
                        help="greedy answers' repetition penalty (labelling uses 1.0, as for the local side)")
    args = parser.parse_args(argv)
    uvicorn = require("uvicorn", "'edge-router[server]'")
    llm = LocalLLM(args.model, n_ctx=args.n_ctx, threads=args.threads, batched_sampling=not args.sequential,
                   repeat_penalty=args.repeat_penalty)
    uvicorn.run(create_app(llm), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
