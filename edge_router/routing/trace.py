"""Append each decision as one JSON line to a trace file (``EDGE_ROUTER_TRACE``)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..settings import TRACE_ENV

log = logging.getLogger(__name__)


class TraceWriter:
    """Thread-safe JSONL appender. Prompts are not written, only their sha256.

    A path that cannot be written is a ``ConfigurationError`` here, at start; a write that fails later
    (disk full) is logged and never costs the caller the answer.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise ConfigurationError(f"Cannot write the trace file {self.path} ({exc.strerror or exc}); point "
                                     f"{TRACE_ENV} (or trace_path=) at a writable file, or unset it.") from exc
        self._lock = threading.Lock()

    def write(self, event: str, prompt: str, record: dict[str, Any]) -> None:
        row = {
            "time": time.time(),
            "event": event,
            "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            **record,
        }
        line = json.dumps(row, ensure_ascii=False, default=str)
        try:
            with self._lock, open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            log.warning("could not append to the trace file %s: %s", self.path, exc)
