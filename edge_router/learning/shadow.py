"""Shadow labels: a share of the answers the device gave are also asked of the cloud, in the background, and
whether the two agree (by the project's clustering backends) becomes the label ``learn`` reads.

Never for a query the privacy stage flagged (kept or redacted: no shadow copy leaves the device), never past the
daily budget in dollars (which needs the cloud's prices), and never in the caller's way: one background worker, a
bounded queue (a full queue drops the shadow call, logged), every failure logged and the row left unlabelled.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
from typing import Any

from ..errors import ConfigurationError, EdgeRouterError

log = logging.getLogger(__name__)


class ShadowLabeller:
    """Ask ``clouds`` (a ``CloudChain``) again for ``share`` of local answers, at most ``budget_usd`` a UTC day."""

    def __init__(self, store: Any, clouds: Any, clusterer: Any, *, share: float, budget_usd: float,
                 max_tokens: int = 256, queue_size: int = 64, seed: int | None = None):
        if not 0.0 < share <= 1.0:
            raise ConfigurationError(f"shadow_share is a share of local answers in (0, 1], not {share}.")
        if budget_usd <= 0:
            raise ConfigurationError(f"shadow_budget_usd is the most a day's shadow calls may cost, above 0, not "
                                     f"{budget_usd}.")
        if any(getattr(c, "prices", None) is None for c in clouds.clouds):
            raise ConfigurationError("shadow labels are capped by a daily budget in dollars, which needs each cloud "
                                     "endpoint's prices (cloud_prices=, --prices IN,OUT, or prices in [[clouds]]).")
        self.store, self.clouds, self.clusterer = store, clouds, clusterer
        self.share, self.budget_usd, self.max_tokens = share, budget_usd, max_tokens
        self._random = random.Random(seed)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._worker = threading.Thread(target=self._run, name="edge-router-shadow", daemon=True)
        self._worker.start()

    def spent_today(self) -> float:
        """What today's shadow calls cost, from the store (so a restart does not reset the budget)."""
        return self.store.spent(_today())

    def offer(self, messages: Any, answer: Any) -> bool:
        """Queue a shadow call for this local answer if it qualifies; True when queued."""
        decision = answer.decision
        if decision.route != "local" or decision.privacy or decision.degraded:
            return False
        if self._random.random() >= self.share or self.spent_today() >= self.budget_usd:
            return False
        try:
            self._queue.put_nowait((messages, answer.text, decision.id))
        except queue.Full:
            log.warning("shadow queue full: decision %s gets no shadow label", decision.id)
            return False
        return True

    def wait(self) -> None:
        """Block until every queued shadow call is done (for tests and shutdown)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            messages, local_text, ident = self._queue.get()
            try:
                self._label(messages, local_text, ident)
            except Exception as exc:  # noqa: BLE001 - a background labeller must outlive any failure
                log.warning("shadow label for decision %s failed: %s", ident, exc)
            finally:
                self._queue.task_done()

    def _label(self, messages: Any, local_text: str, ident: str) -> None:
        if self.spent_today() >= self.budget_usd:
            return
        try:
            completion = self.clouds.chat(messages, max_tokens=self.max_tokens)
        except EdgeRouterError as exc:
            log.info("shadow call for decision %s failed (%s); left unlabelled", ident, exc)
            return
        if completion.cost_usd is None:  # no usage reported: the budget cannot be kept, so today's is spent
            log.warning("the cloud reported no usage for a shadow call: no more shadow calls today")
        self.store.spend(_today(), self.budget_usd if completion.cost_usd is None else completion.cost_usd)
        question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), None)
        agree = len(set(self.clusterer.cluster([local_text, completion.text], question=question))) == 1
        self.store.label(ident, agree, source="shadow")


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()
