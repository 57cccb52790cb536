"""The device's own record of what it decided and how it went: one SQLite file (the standard library's).

One row per answered query: its decision id (the answer carries it), time, route, mode, the deciding score and
threshold, every stage's score, the query's embedding (float16) and the embedder's id, the answering model, cost
and latency; the prompt text only when the app opts in (``keep_prompts``), and never for a query the privacy stage
flagged. Feedback (``local_ok``: was the device's answer, or would it have been, good enough?) and shadow labels
update a row. Bounded by ``max_rows``: the oldest go first, pruned every hundredth of it (so a write does not scan
the table each time, and the store may hold up to 1 % more between prunes). WAL mode and one short transaction per
write: safe under several threads and processes, and a killed process loses no committed row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import ConfigurationError, InvalidInputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    route TEXT NOT NULL,
    decided TEXT,
    mode TEXT,
    score REAL,
    threshold REAL,
    stage_scores TEXT,
    embedder_id TEXT,
    embedding BLOB,
    model TEXT,
    cost_usd REAL,
    answer_ms REAL,
    private INTEGER NOT NULL DEFAULT 0,
    prompt TEXT,
    local_ok INTEGER,
    label_source TEXT,
    labelled REAL
);
CREATE INDEX IF NOT EXISTS decisions_created ON decisions (created);
CREATE INDEX IF NOT EXISTS decisions_labelled ON decisions (local_ok) WHERE local_ok IS NOT NULL;
CREATE TABLE IF NOT EXISTS shadow_spend (day TEXT PRIMARY KEY, usd REAL NOT NULL);
"""
MAX_ROWS = 100_000


def default_path() -> Path:
    """``decisions.sqlite3`` in the platform's user data folder for edge-router."""
    import platformdirs

    return Path(platformdirs.user_data_path("edge-router")) / "decisions.sqlite3"


class DecisionStore:
    """Rows of decisions and their labels in the SQLite file ``path``."""

    def __init__(self, path: str | Path | None = None, *, max_rows: int = MAX_ROWS, keep_prompts: bool = False):
        self.path = Path(path) if path is not None else default_path()
        if max_rows < 1:
            raise ConfigurationError(f"max_rows is the most rows the store keeps, at least 1, not {max_rows}.")
        self.max_rows, self.keep_prompts = max_rows, keep_prompts
        self._added = 0
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(f"Cannot open the decision store {self.path} ({exc}); pass store= (or "
                                     "--store) a writable file.") from exc

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared between threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def add(self, decision: Any, *, vector: np.ndarray | None, embedder_id: str | None, model: str | None,
            cost_usd: float | None, answer_ms: float | None, prompt: str | None = None) -> None:
        """One answered query. The prompt is kept only with ``keep_prompts`` (callers may skip making it otherwise)
        and never for a private query."""
        private = bool(decision.privacy)
        stage_scores = {s["name"]: s["score"] for s in decision.stages if s.get("score") is not None}
        blob = None if vector is None else np.asarray(vector, np.float16).tobytes()
        row = (decision.id, time.time(), decision.route, decision.decided, decision.mode, decision.score,
               decision.threshold, json.dumps(stage_scores), embedder_id, blob, model, cost_usd, answer_ms,
               int(private), prompt if self.keep_prompts and not private else None)
        db = self._connect()
        self._added += 1  # a race here only moves a prune by a row
        with db:
            db.execute("INSERT OR REPLACE INTO decisions (id, created, route, decided, mode, score, threshold, "
                       "stage_scores, embedder_id, embedding, model, cost_usd, answer_ms, private, prompt) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            if self._added % max(1, self.max_rows // 100) == 0:
                db.execute("DELETE FROM decisions WHERE id IN (SELECT id FROM decisions ORDER BY created DESC "
                           "LIMIT -1 OFFSET ?)", (self.max_rows,))

    def label(self, decision_id: str, local_ok: bool, *, source: str = "feedback") -> None:
        """Whether the device's answer to that query is (or would have been) good enough; ``decision_id`` may be
        ``serve``'s response id (``chatcmpl-<id>``)."""
        decision_id = decision_id.removeprefix("chatcmpl-")
        if not isinstance(local_ok, bool):
            raise InvalidInputError(f"local_ok is True or False, not {local_ok!r}.")
        db = self._connect()
        with db:
            updated = db.execute("UPDATE decisions SET local_ok = ?, label_source = ?, labelled = ? WHERE id = ?",
                                 (int(local_ok), source, time.time(), decision_id)).rowcount
        if not updated:
            raise InvalidInputError(f"no stored decision has the id {decision_id!r}: it was never stored (no store "
                                    "was configured when it was answered) or the retention limit dropped it.")

    def labelled(self, embedder_id: str) -> Iterator[tuple[str, np.ndarray, bool]]:
        """(id, embedding, local_ok) of every labelled row embedded by ``embedder_id``, oldest first."""
        rows = self._connect().execute("SELECT id, embedding, local_ok FROM decisions WHERE local_ok IS NOT NULL "
                                       "AND embedding IS NOT NULL AND embedder_id = ? ORDER BY created",
                                       (embedder_id,))
        for ident, blob, ok in rows:
            yield ident, np.frombuffer(blob, np.float16).astype(np.float32), bool(ok)

    def embeddings(self, embedder_id: str, *, limit: int = -1) -> np.ndarray:
        """The newest ``limit`` stored embeddings of ``embedder_id`` (all by default): the app's traffic, for
        recalibrating thresholds."""
        rows = self._connect().execute("SELECT embedding FROM decisions WHERE embedding IS NOT NULL AND "
                                       "embedder_id = ? ORDER BY created DESC LIMIT ?", (embedder_id, limit)).fetchall()
        return np.array([np.frombuffer(b, np.float16) for (b,) in rows], np.float32)

    def spend(self, day: str, usd: float) -> float:
        """Add ``usd`` to the shadow calls' spend on ``day``; returns the day's total (kept across restarts)."""
        db = self._connect()
        with db:
            db.execute("INSERT INTO shadow_spend (day, usd) VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET "
                       "usd = usd + excluded.usd", (day, usd))
            return db.execute("SELECT usd FROM shadow_spend WHERE day = ?", (day,)).fetchone()[0]

    def spent(self, day: str) -> float:
        row = self._connect().execute("SELECT usd FROM shadow_spend WHERE day = ?", (day,)).fetchone()
        return 0.0 if row is None else row[0]

    def get(self, decision_id: str) -> dict | None:
        db = self._connect()
        db.row_factory = sqlite3.Row
        try:
            row = db.execute("SELECT * FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        finally:
            db.row_factory = None
        return None if row is None else {k: row[k] for k in row.keys() if k != "embedding"}

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM decisions").fetchone()[0]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
