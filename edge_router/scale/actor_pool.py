"""Ray actors kept busy with a list of tasks, one task per actor at a time; an actor that dies mid-task is replaced
and its task given to the new one, so no task is lost and none is done twice (the labelling and outcome jobs)."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Callable, Sequence

from ..errors import ConfigurationError

log = logging.getLogger(__name__)


def connect(address: str) -> None:
    """``local`` starts a Ray on this machine; ``auto`` or an address joins a running cluster."""
    try:
        import ray
    except ImportError:
        raise ConfigurationError("--ray needs Ray: pip install 'edge-router[scale]'.") from None
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)


class ActorPool:
    """``size`` actors made by ``make()`` (each a Ray actor handle with a ``ready`` method)."""

    def __init__(self, make: Callable[[], Any], size: int):
        import ray

        if size < 1:
            raise ConfigurationError(f"actors is at least 1, not {size}.")
        self.make, self.replaced = make, 0
        started = time.perf_counter()
        self.actors = [make() for _ in range(size)]
        ray.get([actor.ready.remote() for actor in self.actors])  # processes started, models loaded
        self.startup_seconds = time.perf_counter() - started

    def run(self, tasks: Sequence[Any], submit: Callable[[Any, Any], Any],
            deliver: Callable[[int, Any], None]) -> None:
        """``submit(actor, task)`` (an object ref) for every task; ``deliver(index, result)`` as each comes back."""
        import ray

        queue, in_flight = deque(range(len(tasks))), {}
        while queue or in_flight:
            busy = {actor for actor, _ in in_flight.values()}
            for actor in self.actors:
                if queue and actor not in busy:
                    index = queue.popleft()
                    in_flight[submit(actor, tasks[index])] = (actor, index)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            actor, index = in_flight.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayActorError as exc:  # died mid-task: a new actor takes the task
                self.replaced += 1
                log.warning("an actor died (%s); task %d goes to a new actor", exc, index)
                self.actors[self.actors.index(actor)] = self.make()
                queue.appendleft(index)
                continue
            deliver(index, result)
