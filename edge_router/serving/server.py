"""``edge-router serve``: an OpenAI-compatible chat endpoint that routes each request.

Endpoints: ``POST /v1/chat/completions`` (non-streaming and server-sent events),
``GET /v1/models``, ``GET /health``, ``GET /metrics`` (Prometheus text), ``POST /v1/feedback`` (``{"id": a
response's id, "local_ok": true|false}``, stored for ``learn`` when the router has a decision store). The
decision travels with every answer: ``x-edge-router-route``, ``-score`` and
``-reason`` headers and an ``edge_router`` object in the body (for a stream, in
its last chunk, which also reflects a fallback taken before the first piece).
Per-request options come as an ``edge_router`` object in the request body
(``force``: "local" or "cloud"; ``cloud_share``: a number in (0, 1); ``privacy``: "keep-local", "redact" or
"off") or as the headers ``x-edge-router-force``, ``x-edge-router-cloud-share`` and
``x-edge-router-privacy-mode``. The entity types the privacy stage found come back in ``x-edge-router-privacy``.
``/v1/models`` lists the router itself and each cloud endpoint by name; a request whose ``model`` names an endpoint
is answered by that endpoint first (the other endpoints, then the device, as fallbacks; never past the privacy
policy), any other ``model`` is routed.

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
from dataclasses import fields
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..backends.completions import Sampling
from ..backends.messages import normalize
from ..defaults import check_cloud_share, check_route
from ..errors import (
    AllRoutesFailedError,
    ConfigurationError,
    EdgeRouterError,
    InvalidInputError,
    LocalModelError,
    MissingDependencyError,
    RouterModelError,
)
from ..privacy.policy import MODES as PRIVACY_MODES
from ..routing.decision import Answer, Decision
from ..routing.runtime import EdgeRouter
from .metrics import ServerMetrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
SAMPLING_FIELDS = tuple(f.name for f in fields(Sampling) if f.name != "cloud_fields")
# Fields this server reads; any other field of a request goes to the cloud untouched.
READ_FIELDS = frozenset({"messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "model", "n",
                         "edge_router", *SAMPLING_FIELDS})
_END = object()


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status)


class RouterOptions(BaseModel):
    """The request's ``edge_router`` object: per-request routing options."""

    model_config = ConfigDict(extra="forbid")
    force: Optional[str] = None
    cloud_share: Optional[float] = None
    privacy: Optional[str] = None

    @field_validator("privacy")
    @classmethod
    def _privacy(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value not in PRIVACY_MODES:
            raise ValueError(f"'privacy' must be one of {', '.join(PRIVACY_MODES)}")
        return value

    @field_validator("force")
    @classmethod
    def _force(cls, value: Optional[str]) -> Optional[str]:
        return check_route(value, "'force'")

    @field_validator("cloud_share", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Optional[float]:
        return None if value is None else check_cloud_share(value)


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat request this server reads (others are accepted and left alone)."""

    model_config = ConfigDict(extra="allow", strict=True)
    messages: list
    stream: bool = False
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    model: Optional[str] = None
    n: Optional[int] = None
    edge_router: Optional[RouterOptions] = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: Optional[int]) -> Optional[int]:
        if value is not None and value != 1:
            raise InvalidInputError("'n' must be 1: edge-router answers with one choice (one route per request).")
        return value

    @field_validator("messages", mode="before")
    @classmethod
    def _messages(cls, value: Any) -> list:
        if not isinstance(value, list):
            raise InvalidInputError("'messages' must be a list of {'role': ..., 'content': ...} objects.")
        return normalize(value)


def _message(error: dict) -> str:
    """One pydantic error as the sentence a caller reads."""
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInputError):
        return str(cause)
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"'{where}' is required: a list of {{'role': ..., 'content': ...}} objects."
    if error["type"] == "extra_forbidden":
        return f"'edge_router' must be an object with only {sorted(RouterOptions.model_fields)}; got '{where}'."
    return f"'{where}': {error['msg'].lower()}."


def parse_request(body: Any, headers: Any) -> dict:
    """The checked request: messages, stream, max_tokens, force, cloud_share, sampling (temperature, top_p,
    seed, stop, presence and frequency penalties, for either route). Raises InvalidInputError."""
    if not isinstance(body, dict):
        raise InvalidInputError("the request body must be a JSON object.")
    try:
        req = ChatRequest.model_validate(body)
        in_headers = RouterOptions.model_validate(
            {"force": headers.get("x-edge-router-force"), "cloud_share": headers.get("x-edge-router-cloud-share"),
             "privacy": headers.get("x-edge-router-privacy-mode")},
            strict=False)
    except ValidationError as exc:
        raise InvalidInputError(_message(exc.errors()[0])) from None
    given = {name: body[name] for name in SAMPLING_FIELDS if body.get(name) is not None}
    other = {k: v for k, v in body.items() if k not in READ_FIELDS}
    sampling = Sampling(**given, cloud_fields=other) if given or other else None
    in_body = req.edge_router or RouterOptions()  # the body's options win over the headers', option by option
    force = in_body.force if in_body.force is not None else in_headers.force
    share = in_body.cloud_share if in_body.cloud_share is not None else in_headers.cloud_share
    privacy = in_body.privacy if in_body.privacy is not None else in_headers.privacy
    choice = body.get("tool_choice")
    needs_tools = bool(body.get("tools")) and (choice == "required" or isinstance(choice, dict))
    return {"messages": req.messages, "stream": req.stream, "max_tokens": req.max_completion_tokens or req.max_tokens,
            "force": force, "cloud_share": share, "privacy": privacy, "model": req.model, "sampling": sampling,
            "needs_tools": needs_tools}


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")[:500]


def decision_headers(decision: Decision) -> dict[str, str]:
    """The decision as response headers: the route delivered and the one decided, the router score (absent
    when no router scored), the reason, whether the answer is degraded, and the fallback's kind and message."""
    headers = {"x-edge-router-route": decision.route, "x-edge-router-decided": decision.decided,
               "x-edge-router-reason": _ascii(decision.reason),
               "x-edge-router-degraded": "true" if decision.degraded else "false"}
    headers["x-edge-router-privacy"] = ",".join(decision.privacy) or "none"  # entity types, never values
    if decision.score is not None:
        headers["x-edge-router-score"] = f"{decision.score:.6f}"
    if decision.fallback_kind is not None:
        headers["x-edge-router-fallback"] = f"{decision.fallback_kind.value}: {_ascii(decision.fallback or '')}"
    return headers


def _router_object(answer: Answer) -> dict:
    return {**answer.decision.to_dict(), "answered_by": answer.model, "cost_usd": answer.cost_usd,
            "answer_ms": answer.answer_ms}


def create_app(router: EdgeRouter, *, token: str | None = None, max_body_bytes: int = MAX_BODY_BYTES,
               model_name: str = "edge-router") -> Any:
    """The ASGI app serving ``router``; ``token`` requires ``Authorization: Bearer <token>``."""
    try:
        import anyio
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse, Response, StreamingResponse
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
    metrics = ServerMetrics()
    record = metrics.record

    def fail(status: int, message: str, kind: str = "invalid_request_error") -> Any:
        metrics.errors.labels(status=str(status)).inc()
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

    endpoints = router.routes.clouds.names if router.routes.clouds else []

    @app.get("/health")
    async def health():
        circuits = {name: router.routes.clouds.breaker(name).state() for name in endpoints}
        return {"status": "ok", "mode": router.mode, "models": router.model_ids(),
                "cloud_circuit": router.breaker.state(), "cloud_circuits": circuits}

    @app.get("/v1/models")
    async def models():
        listed = [(model_name, "edge-router"), *((name, "edge-router cloud endpoint") for name in endpoints)]
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": owner}
                                           for name, owner in listed]}

    @app.get("/metrics")
    async def prometheus():
        metrics.circuit_open.set(1.0 if endpoints and not router.routes.cloud_available() else 0.0)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.post("/v1/feedback")
    async def feedback(request: Request):
        try:
            body = json.loads((await request.body()).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return fail(400, "The feedback body is a JSON object: {\"id\": RESPONSE_ID, \"local_ok\": true}.")
        ident, ok = (body.get("id"), body.get("local_ok")) if isinstance(body, dict) else (None, None)
        if not isinstance(ident, str) or not isinstance(ok, bool):
            return fail(400, "Feedback needs 'id' (a chat completion's id) and 'local_ok' (true or false).")
        try:
            await anyio.to_thread.run_sync(lambda: router.feedback(ident, local_ok=ok))
        except ConfigurationError as exc:
            return fail(409, str(exc))
        except InvalidInputError as exc:
            return fail(404, str(exc))
        return {"id": ident, "local_ok": ok, "stored": True}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        raw = await request.body()
        if len(raw) > max_body_bytes:
            return fail(400, f"The request body is larger than {max_body_bytes} bytes.")
        try:
            req = parse_request(json.loads(raw.decode("utf-8")), request.headers)
        except UnicodeDecodeError as exc:
            return fail(400, f"The request body is not UTF-8 ({exc.reason} at byte {exc.start}); send UTF-8 JSON.")
        except json.JSONDecodeError as exc:
            return fail(400, f"The request body is not valid JSON ({exc.msg} at position {exc.pos}).")
        except InvalidInputError as exc:
            return fail(400, str(exc))
        call = {"max_tokens": req["max_tokens"], "force": req["force"], "cloud_share": req["cloud_share"],
                "privacy": req["privacy"], "sampling": req["sampling"]}
        if req["model"] in endpoints:  # the caller asked for this endpoint: it answers, unless it cannot
            if req["force"] == "local":
                return fail(400, f"model {req['model']!r} is a cloud endpoint, and the request is forced to the "
                                 "device; name the router's model instead, or drop the force.")
            call.update(force="cloud", endpoint=req["model"])
        if req["needs_tools"]:  # a required tool call: the device model cannot make one
            if router.cloud is None or req["force"] == "local":
                why = "it is forced to the device." if router.cloud is not None else "no cloud is configured."
                return fail(400, "This request requires a tool call (tools with tool_choice 'required' or a named "
                                 f"function), which only a cloud model makes, and {why}")
            call["force"] = "cloud"
        device_cannot = "the cloud failed, and the device cannot make the tool call this request requires"
        try:
            if req["stream"]:
                stream = await anyio.to_thread.run_sync(lambda: router.stream(req["messages"], **call))
                await anyio.to_thread.run_sync(stream.settle)  # the answer check, if on, decides here
                if req["needs_tools"] and stream.decision.route != "cloud":
                    stream.close()
                    return fail(502, device_cannot, "upstream_error")
                model = answering_model(router, stream.decision, call.get("endpoint"))  # the one asked first
                return ClosingStreamingResponse(_events(stream, model), media_type="text/event-stream",
                                                headers=decision_headers(stream.decision))
            answer = await anyio.to_thread.run_sync(lambda: router.chat(req["messages"], **call))
            if req["needs_tools"] and answer.route != "cloud":
                return fail(502, device_cannot, "upstream_error")
        except (InvalidInputError, ConfigurationError, RouterModelError) as exc:  # PrivacyError included
            return fail(400, str(exc))
        except LocalModelError as exc:  # the device failed and no cloud could take over
            return fail(502, str(exc), "upstream_error")
        except AllRoutesFailedError as exc:
            metrics.fallbacks.labels(reason="all_routes_failed").inc()
            return fail(502, str(exc), "upstream_error")
        record(answer)
        # The same name as a stream gives: the answering model's id ("cloud:NAME" for a cloud endpoint).
        return JSONResponse(_completion_body(answer, answering_model(router, answer.decision)),
                            headers=decision_headers(answer.decision))

    async def _events(stream, model: str):
        created, ident = int(time.time()), f"chatcmpl-{stream.decision.id}"  # the id feedback names

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
            metrics.errors.labels(status="stream").inc()
            yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'upstream_error'}})}\n\n"
        finally:
            # Synchronous on purpose: after a client disconnect this scope is cancelled and an await here would
            # never run. No piece is being produced now, so closing frees the local model at once.
            pieces.close()
        yield "data: [DONE]\n\n"

    app.state.metrics = metrics
    return app


def answering_model(router: Any, decision: Decision, endpoint: Optional[str] = None) -> str:
    """The id of the model that answers (or, for a stream not yet opened, will first be asked): the local model's,
    or ``cloud:NAME`` of the endpoint that answered, else the first one the request tries."""
    if decision.route == "cloud" and decision.cloud_attempts:
        return f"cloud:{decision.cloud_attempts[-1]['endpoint']}"
    if decision.route == "cloud" and router.routes.clouds is not None:
        return router.routes.clouds.first_id(endpoint)
    return router.model(decision.route).id


def _completion_body(answer: Answer, model: str) -> dict:
    return {
        "id": f"chatcmpl-{answer.decision.id}",  # the id POST /v1/feedback names
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
