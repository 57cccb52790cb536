"""A real OpenAI-compatible HTTP server on loopback that can misbehave on purpose: for testing what an app
does when its cloud fails (the tests and the serve soak benchmark use it).

Each request takes the next behaviour from ``server.behaviours`` (``"ok"`` when
the queue is empty): ``ok``, ``429`` (with ``Retry-After`` unless ``retry_after`` is None), ``500``, ``400``,
``401``, ``hang`` (sleeps past the client's timeout), ``malformed`` (invalid
JSON), ``cut`` (a stream that stops halfway). Streaming requests stream.
``server.answer`` makes the text of an answer from the request's messages.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer_for(messages: list[dict]) -> str:
    last = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    return f"cloud answer to: {last}"


class _Handler(BaseHTTPRequestHandler):
    server: CloudServer

    def log_message(self, *args) -> None:
        pass

    def _json(self, status: int, body: object, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length))
        behaviour = self.server.next_behaviour()
        self.server.requests.append({"headers": dict(self.headers), "body": request, "behaviour": behaviour})
        if behaviour == "429":
            retry_after = self.server.retry_after
            self._json(429, {"error": {"message": "rate limited"}},
                       {"Retry-After": str(retry_after)} if retry_after is not None else None)
        elif behaviour in ("500", "400", "401"):
            self._json(int(behaviour), {"error": {"message": f"status {behaviour} on purpose"}})
        elif behaviour == "hang":
            time.sleep(self.server.hang_seconds)
            self._json(200, {})
        elif behaviour == "malformed":
            data = b'{"choices": [ this is not json'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif request.get("stream"):
            self._stream(request, cut=behaviour == "cut")
        else:
            text = self.server.answer(request["messages"])
            self._json(200, {
                "id": "cmpl-1", "object": "chat.completion", "model": request["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                          "total_tokens": 10 + len(text.split())},
            })

    def _stream(self, request: dict, *, cut: bool) -> None:
        words = self.server.answer(request["messages"]).split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, piece in enumerate(pieces):
            if cut and i == len(pieces) // 2:
                self.wfile.flush()
                self.close_connection = True
                return
            choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            chunk = {"model": request["model"], "choices": [choice]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        final = {"model": request["model"], "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)}}
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


class CloudServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once (socketserver's default backlog of 5 resets the rest)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviours: deque[str] = deque()
        self.requests: list[dict] = []
        self.answer = answer_for
        self.retry_after = 1
        self.hang_seconds = 3.0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request, client_address) -> None:
        """A client that gave up on a hung answer closed its socket: expected here, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def next_behaviour(self) -> str:
        with self._lock:
            return self.behaviours.popleft() if self.behaviours else "ok"

    def start(self) -> CloudServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
