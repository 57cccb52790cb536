"""Building routers: semantic-entropy labels, the router kinds (kNN, SW, MF, MLP), ONNX export,
cards and calibration."""


def __getattr__(name: str):
    """Names of the former module ``edge_router.training`` (now ``training.trainer``), with a deprecation warning."""
    from .._moved import forward

    return forward(__name__, __name__ + ".trainer", name)
