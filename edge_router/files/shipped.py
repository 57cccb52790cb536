"""Files this package ships (installed as ``edge_router_models``): the default router and the answer-check probe."""

from __future__ import annotations

from pathlib import Path

SHIPPED_ROUTER = "routers/default.onnx"
SHIPPED_PROBE = "probes/answer_check.json"
SHIPPED_STATE_PROBE = "probes/prefill_state.json"
SHIPPED_POLICY = "routers/policy.json"


def shipped(member: str) -> Path | None:
    """The path of ``member`` inside ``edge_router_models``, or None when the package does not hold it."""
    from importlib import resources

    try:
        path = Path(str(resources.files("edge_router_models").joinpath(member)))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def shipped_router() -> Path | None:
    """The router file this package ships (``models/routers/default.onnx``), if there is one."""
    return shipped(SHIPPED_ROUTER)


def shipped_probe() -> Path | None:
    """The answer check's probe this package ships (``models/probes/answer_check.json``), if there is one."""
    return shipped(SHIPPED_PROBE)


def shipped_state_probe() -> Path | None:
    """The prefill-state probe this package ships (``models/probes/prefill_state.json``), if there is one."""
    return shipped(SHIPPED_STATE_PROBE)


def shipped_policy() -> Path | None:
    """The policy combining the router and the prefill probe (``models/routers/policy.json``), if there is one."""
    return shipped(SHIPPED_POLICY)
