"""Append each decision as one JSON line to a trace file (``EDGE_ROUTER_TRACE``)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any


class TraceWriter:
    """Thread-safe JSONL appender. Prompts are not written, only their sha256."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, event: str, prompt: str, record: dict[str, Any]) -> None:
        row = {
            "time": time.time(),
            "event": event,
            "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
            **record,
        }
        line = json.dumps(row, ensure_ascii=False, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
