"""Measuring routers: PGR, CPT, APGR and cost curves, random and oracle baselines, the LLM judge."""


def __getattr__(name: str):
    """Names of the former module ``edge_router.evaluation`` (now ``evaluation.runner``), with a deprecation warning."""
    from .._moved import forward

    return forward(__name__, __name__ + ".runner", name)
