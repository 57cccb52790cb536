"""Module paths from before the subpackages (``edge_router.runtime``, ``edge_router.clustering`` ...) keep
working: importing one gives the module at its new place, with a ``DeprecationWarning`` that names it."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    **{m: f"files.{m}" for m in ("registry", "model_store", "onnx_session")},
    **{m: f"backends.{m}" for m in ("local_llm", "cloud_llm", "embedder", "router_model", "completions",
                                     "messages", "fifo_lock")},
    **{m: f"uncertainty.{m}" for m in ("semantic_entropy", "clustering", "entailment")},
    **{m: f"routing.{m}" for m in ("runtime", "budget", "trace", "decision")},
    **{m: f"data.{m}" for m in ("datasets", "nli_data", "eval_data", "local_outcomes", "embedding_cache",
                                 "resumable")},
    **{m: f"training.{m}" for m in ("labels", "onnx_export", "routers")},
    **{m: f"evaluation.{m}" for m in ("quality", "judge")},
    "server": "serving.server",
    "standin": "loopback.standin",
    **{f"bench.{m}": f"loopback.{m}" for m in ("fault_server", "standin_app", "standin", "load")},
    "benchmark": "bench",
}
_PREFIX = "edge_router."


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``edge_router.<old>`` for the names in ``MOVED``; real modules are always found first."""

    def find_spec(self, name, path=None, target=None):
        if name.startswith(_PREFIX) and name[len(_PREFIX):] in MOVED:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        new = _PREFIX + MOVED[spec.name[len(_PREFIX):]]
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old path will go away).",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module) -> None:
        """The module returned by ``create_module`` is already imported."""


def forward(package: str, module: str, name: str):
    """For a package's ``__getattr__``: ``name`` from the old module of the same name as the package, now
    ``module`` (``edge_router.training.train`` was ``edge_router.training``'s, now ``training.trainer``'s)."""
    target = importlib.import_module(module)
    if not hasattr(target, name) or name.startswith("_"):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warnings.warn(f"{package}.{name} moved to {module}.{name}; import it from there.", DeprecationWarning,
                  stacklevel=3)
    return getattr(target, name)


def install() -> None:
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
