"""``edge-router serve``: an OpenAI-compatible chat endpoint that routes each request.

Endpoints: ``POST /v1/chat/completions`` (non-streaming and server-sent events),
``GET /v1/models``, ``GET /health``, ``GET /metrics`` (Prometheus text). The
decision travels with every answer: ``x-edge-router-route``, ``-score`` and
``-reason`` headers and an ``edge_router`` object in the body (for a stream, in
its last chunk, which also reflects a fallback taken before the first piece).
Per-request options come as an ``edge_router`` object in the request body
(``force``: "local" or "cloud"; ``cloud_share``: a number in (0, 1)) or as the
headers ``x-edge-router-force`` and ``x-edge-router-cloud-share``.

Invalid requests get 400 with an OpenAI-style error object; a missing or wrong
bearer token (when one is set) gets 401; both routes failing gets 502. The local
model answers one request at a time (its lock); cloud-bound requests run
concurrently in worker threads. Needs the ``server`` extra (FastAPI, uvicorn).

(No ``from __future__ import annotations`` here: FastAPI reads the handlers'
annotations at run time, and ``Request`` is imported inside ``create_app``.)
"""


import json
import logging
import time
import uuid
from typing import Any

from .decision import Answer, Decision
from .errors import (
    AllRoutesFailedError,
    ConfigurationError,
    EdgeRouterError,
    InvalidInputError,
    MissingDependencyError,
    RouterModelError,
)
from .messages import normalize
from .prometheus import Registry
from .runtime import EdgeRouter

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
OPTION_KEYS = {"force", "cloud_share"}
_END = object()


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


def parse_request(body: Any, headers: Any) -> dict:
    """The checked request: messages, stream, max_tokens, force, cloud_share. Raises InvalidInputError."""
    if not isinstance(body, dict):
        raise InvalidInputError("the request body must be a JSON object.")
    if "messages" not in body:
        raise InvalidInputError("'messages' is required: a list of {'role': ..., 'content': ...} objects.")
    messages = normalize(body["messages"]) if isinstance(body["messages"], list) else None
    if messages is None:
        raise InvalidInputError("'messages' must be a list of {'role': ..., 'content': ...} objects.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidInputError("'stream' must be true or false.")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidInputError("'max_tokens' must be a positive integer.")
    if "model" in body and not isinstance(body["model"], str):
        raise InvalidInputError("'model' must be a string.")
    options = body.get("edge_router") or {}
    if not isinstance(options, dict) or set(options) - OPTION_KEYS:
        raise InvalidInputError(f"'edge_router' must be an object with only {sorted(OPTION_KEYS)}.")
    force = options.get("force", headers.get("x-edge-router-force"))
    if force not in (None, "local", "cloud"):
        raise InvalidInputError("'force' must be 'local' or 'cloud'.")
    share = options.get("cloud_share", headers.get("x-edge-router-cloud-share"))
    if share is not None:
        try:
            share = float(share)
        except (TypeError, ValueError):
            raise InvalidInputError("'cloud_share' must be a number between 0 and 1.") from None
        if not 0.0 < share < 1.0 or isinstance(options.get("cloud_share"), bool):
            raise InvalidInputError("'cloud_share' must be a number between 0 and 1.")
    return {"messages": messages, "stream": stream, "max_tokens": max_tokens, "force": force, "cloud_share": share,
            "model": body.get("model")}


def decision_headers(decision: Decision) -> dict[str, str]:
    """Route, router score (absent when no router scored) and reason, as response headers."""
    headers = {"x-edge-router-route": decision.route,
               "x-edge-router-reason": decision.reason.encode("ascii", "replace").decode("ascii")[:500]}
    if decision.score is not None:
        headers["x-edge-router-score"] = f"{decision.score:.6f}"
    return headers


def _router_object(answer: Answer) -> dict:
    return {**answer.decision.to_dict(), "answered_by": answer.model, "cost_usd": answer.cost_usd,
            "answer_ms": answer.answer_ms}


def _fallback_kind(decision: Decision) -> str | None:
    if decision.fallback is None:
        return None
    return decision.fallback.split(":")[0].replace(" ", "_")


def create_app(router: EdgeRouter, *, token: str | None = None, max_body_bytes: int = MAX_BODY_BYTES,
               model_name: str = "edge-router") -> Any:
    """The ASGI app serving ``router``; ``token`` requires ``Authorization: Bearer <token>``."""
    try:
        import anyio
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
    except ImportError as exc:
        raise MissingDependencyError("`edge-router serve` needs FastAPI: pip install 'edge-router[server]'.") from exc

    class ClosingStreamingResponse(StreamingResponse):
        """Closes its body iterator however the response ends, so a client that disconnects mid-stream
        frees the local model at once instead of when the garbage collector gets to it."""

        async def __call__(self, scope, receive, send):
            try:
                await super().__call__(scope, receive, send)
            finally:
                await self.body_iterator.aclose()

    app = FastAPI(title="edge-router", docs_url=None, redoc_url=None, openapi_url=None)
    metrics = Registry()
    metrics.describe("edge_router_requests_total", "counter", "Chat requests by route answered and status.")
    metrics.describe("edge_router_fallbacks_total", "counter", "Fallbacks by reason.")
    metrics.describe("edge_router_decision_ms", "histogram", "Routing decision latency in milliseconds.")
    metrics.describe("edge_router_answer_ms", "histogram", "Answer latency in milliseconds by route.")
    metrics.describe("edge_router_tokens_total", "counter", "Tokens by route and kind.")
    metrics.describe("edge_router_cost_usd_total", "counter", "Cloud cost in USD.")
    metrics.describe("edge_router_errors_total", "counter", "Rejected or failed requests by HTTP status.")

    def record(answer: Answer) -> None:
        route = answer.decision.route
        metrics.inc("edge_router_requests_total", route=route, status="200")
        metrics.observe("edge_router_decision_ms", answer.decision.timings_ms["total"])
        metrics.observe("edge_router_answer_ms", answer.answer_ms, route=route)
        if answer.usage:
            metrics.inc("edge_router_tokens_total", answer.usage.prompt_tokens, route=route, kind="prompt")
            metrics.inc("edge_router_tokens_total", answer.usage.completion_tokens, route=route, kind="completion")
        if answer.cost_usd:
            metrics.inc("edge_router_cost_usd_total", answer.cost_usd)
        if (kind := _fallback_kind(answer.decision)) is not None:
            metrics.inc("edge_router_fallbacks_total", reason=kind)

    def fail(status: int, message: str, kind: str = "invalid_request_error") -> Any:
        metrics.inc("edge_router_errors_total", status=str(status))
        return _error(status, message, kind)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token is not None and request.headers.get("authorization") != f"Bearer {token}":
            return fail(401, "Missing or wrong bearer token: send 'Authorization: Bearer <EDGE_ROUTER_SERVER_TOKEN>'.",
                        "authentication_error")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            return fail(400, f"The request body is larger than {max_body_bytes} bytes.")
        try:
            return await call_next(request)
        except Exception:  # the last line of defence: log it, never send a stack trace
            log.exception("unexpected error serving %s", request.url.path)
            return fail(500, "Internal error; the server log has the details.", "server_error")

    @app.get("/health")
    async def health():
        return {"status": "ok", "mode": router.mode, "models": router._models()}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0,
                                            "owned_by": "edge-router"}]}

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        raw = await request.body()
        if len(raw) > max_body_bytes:
            return fail(400, f"The request body is larger than {max_body_bytes} bytes.")
        try:
            req = parse_request(json.loads(raw), request.headers)
        except json.JSONDecodeError as exc:
            return fail(400, f"The request body is not valid JSON ({exc.msg} at position {exc.pos}).")
        except InvalidInputError as exc:
            return fail(400, str(exc))
        call = {"max_tokens": req["max_tokens"], "force": req["force"], "cloud_share": req["cloud_share"]}
        model = req["model"] or model_name
        try:
            if req["stream"]:
                stream = await anyio.to_thread.run_sync(lambda: router.stream(req["messages"], **call))
                return ClosingStreamingResponse(_events(stream, model), media_type="text/event-stream",
                                         headers=decision_headers(stream.decision))
            answer = await anyio.to_thread.run_sync(lambda: router.chat(req["messages"], **call))
        except (InvalidInputError, ConfigurationError, RouterModelError) as exc:
            return fail(400, str(exc))
        except AllRoutesFailedError as exc:
            metrics.inc("edge_router_fallbacks_total", reason="all_routes_failed")
            return fail(502, str(exc), "upstream_error")
        record(answer)
        return JSONResponse(_completion_body(answer, model), headers=decision_headers(answer.decision))

    async def _events(stream, model: str):
        created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:24]}"

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(body)}\n\n"

        pieces = iter(stream)
        try:
            yield chunk({"role": "assistant"})
            while (piece := await anyio.to_thread.run_sync(next, pieces, _END)) is not _END:
                yield chunk({"content": piece})
            answer = stream.answer
            record(answer)
            usage = answer.usage.to_dict() if answer.usage else None
            yield chunk({}, answer.finish_reason, usage=usage, edge_router=_router_object(answer))
        except EdgeRouterError as exc:
            metrics.inc("edge_router_errors_total", status="stream")
            yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'upstream_error'}})}\n\n"
        finally:
            # Synchronous on purpose: after a client disconnect this scope is cancelled and an await here would
            # never run. No piece is being produced now, so closing frees the local model at once.
            pieces.close()
        yield "data: [DONE]\n\n"

    app.state.metrics = metrics
    return app


def _completion_body(answer: Answer, model: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                     "finish_reason": answer.finish_reason}],
        "usage": answer.usage.to_dict() if answer.usage else None,
        "edge_router": _router_object(answer),
    }


def check_binding(host: str, *, allow_remote: bool, token: str | None) -> None:
    """Loopback by default; any other address needs ``allow_remote`` and a token."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    if not allow_remote:
        raise ConfigurationError(
            f"Refusing to bind {host}: the server binds 127.0.0.1 unless --allow-remote is given."
        )
    if not token:
        raise ConfigurationError(
            f"Binding {host} exposes the endpoint to the network: set EDGE_ROUTER_SERVER_TOKEN to a secret "
            "bearer token first."
        )
