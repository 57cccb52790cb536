"""A cloud stand-in: an OpenAI-compatible server on loopback, in its own process.

Used by the offline demo, the benchmarks, labelling and the tests where no real
cloud API can be reached. It is a *stand-in*: it serves a local GGUF model (by
default the registry's ``cloud-standin``, Qwen2.5-Coder-1.5B-Instruct, stronger
than the on-device default) behind the same HTTP API a real provider speaks
(``edge_router.loopback.standin_app``; ``n`` samples share one prefill). Needs the
``server`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

from .. import defaults
from ..errors import EdgeRouterError, require
from ..files import model_store, registry
from .standin_app import MODEL_ALIAS

__all__ = ["MODEL_ALIAS", "StandinServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandinServer:
    """Start the server on ``start()`` (or ``with``); ``stop()`` always ends it.

    ``base_url`` is the ``/v1`` URL to give ``CloudLLM``; the model name is ``standin``.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        port: int | None = None,
        n_ctx: int = defaults.N_CTX,
        threads: int | None = None,
        startup_timeout: float = 120.0,
        batched_sampling: bool = True,
        repeat_penalty: float = defaults.REPEAT_PENALTY,
    ):
        model = model if model is not None else registry.default_spec("cloud-standin").name
        self.model_path, self.model_id = model_store.locate("local-llm", model)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.n_ctx = n_ctx
        self.threads = threads
        self.startup_timeout = startup_timeout
        self.batched_sampling = batched_sampling
        self.repeat_penalty = repeat_penalty
        self._proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> StandinServer:
        for module in ("fastapi", "uvicorn"):
            require(module, "'edge-router[server]'")
        import requests

        cmd = [sys.executable, "-m", "edge_router.loopback.standin_app", "--model", str(self.model_path),
               "--port", str(self.port), "--n-ctx", str(self.n_ctx), "--repeat-penalty", str(self.repeat_penalty)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        if not self.batched_sampling:
            cmd.append("--sequential")
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode("utf-8", "replace")[-800:]
                self.stop()
                raise EdgeRouterError(f"The cloud stand-in exited at start-up:\n{err}")
            try:
                if requests.get(f"{self.base_url}/models", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise EdgeRouterError(
            f"The cloud stand-in did not answer on {self.base_url} within {self.startup_timeout:g} s."
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
