"""The layering written in ``edge_router/__init__.py``, checked over every import statement, and the wheel a
clean build produces."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "edge_router"
DEVICE = {"files", "backends", "uncertainty", "routing", "privacy"}
LAB = {"data", "training", "evaluation", "scale"}
FRONT_ENDS = {"serving", "bench", "cli", "loopback", "testing", "integrations"}
DEVICE_NEVER = LAB | FRONT_ENDS
HEAVY = {"torch", "fastapi", "starlette", "uvicorn", "matplotlib", "prometheus_client", "onnx", "pydantic"}


def _imports(path: Path) -> list[str]:
    """Absolute dotted names of every module ``path`` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append(target)
            names += [f"{target}.{alias.name}" for alias in node.names]
    return names


def _part(dotted: str) -> str | None:
    """The subpackage (or top-level module) of edge_router that ``dotted`` names."""
    parts = dotted.split(".")
    return parts[1] if parts[0] == "edge_router" and len(parts) > 1 else None


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, _part(".".join(path.relative_to(ROOT).with_suffix("").parts))


def test_the_device_side_imports_neither_the_lab_nor_front_ends_nor_heavy_libraries():
    bad = []
    for path, part in _modules():
        if part not in DEVICE:
            continue
        for name in _imports(path):
            if _part(name) in DEVICE_NEVER or name.split(".")[0] in HEAVY:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_training_and_evaluation_do_not_import_each_other_and_the_lab_no_front_end():
    bad = []
    for path, part in _modules():
        if part not in LAB:
            continue
        for name in _imports(path):
            other = _part(name)
            if other in FRONT_ENDS or {part, other} == {"training", "evaluation"}:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_subpackages_private_module():
    bad = []
    for path, part in _modules():
        for name in _imports(path):
            parts = name.split(".")
            # edge_router.<subpackage>.<..._private...>: private to that subpackage.
            private = any(p.startswith("_") and not p.startswith("__") for p in parts[2:])
            if parts[0] == "edge_router" and private and _part(name) != part:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_scripts_in_models_and_benchmarks_import_no_private_module():
    bad = []
    for folder in ("models", "benchmarks", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "edge_router" and any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


MAX_LINES = 400


def test_no_module_is_over_400_lines():
    long = [f"{path.relative_to(ROOT)}: {n} lines"
            for folder in ("edge_router", "benchmarks", "models", "examples")
            for path in sorted((ROOT / folder).rglob("*.py"))
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, "split these into modules of one idea each:\n" + "\n".join(long)


def test_the_import_rules_see_real_imports():
    """The checker itself: it resolves relative imports to the modules they name."""
    names = _imports(PACKAGE / "routing" / "runtime.py")
    assert "edge_router.backends.local_llm" in names and "edge_router.routing.decision" in names


CORE_WHEEL_MAX_MB = 30


def _build_wheel(source: Path, dist: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(dist), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the tracked files")
def test_the_wheels_from_a_clean_checkout_hold_every_subpackage_and_shipped_file(tmp_path):
    """Built from the files git tracks (as a clean clone has them), not from this working folder: the core wheel
    (every subpackage, every file in models/ but models/extra/, at most 30 MB) and the extra-models wheel
    (models/extra/ only)."""
    checkout = tmp_path / "checkout"
    tracked = subprocess.run(["git", "ls-files", "-c", "-o", "--exclude-standard"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.splitlines()
    for rel in tracked:
        if (ROOT / rel).is_file():
            (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, checkout / rel)
    wheel = _build_wheel(checkout, tmp_path / "core")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(checkout).as_posix() for p in (checkout / "edge_router").rglob("__init__.py")}
    missing = [f"{pkg}/__init__.py" for pkg in packages if f"{pkg}/__init__.py" not in names]
    # Every model file this project ships; label, signal and training-answer files are training data and stay in
    # the repository.
    training_data = (".py", ".labels.jsonl.gz", ".signals.jsonl.gz")
    shipped = [f for f in tracked if f.startswith("models/") and not f.endswith(training_data)
               and "/gsm8k-train/" not in f and not f.startswith("models/extra/")]
    missing += [f for f in shipped if "edge_router_models/" + f.removeprefix("models/") not in names]
    missing += [f for f in ["edge_router/files/model_registry.json"] if f not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert "edge_router/training/routers/knn.py" in names
    assert not [n for n in names if n.startswith(("edge_router_extra_models/", "edge_router_models/extra/"))]
    assert wheel.stat().st_size <= CORE_WHEEL_MAX_MB * 1e6, f"core wheel {wheel.stat().st_size / 1e6:.1f} MB"

    extra = set(zipfile.ZipFile(_build_wheel(checkout / "models" / "extra", tmp_path / "extra")).namelist())
    files = [f for f in tracked if f.startswith("models/extra/") and not f.endswith(("pyproject.toml", ".py"))]
    assert files and all("edge_router_extra_models/" + f.removeprefix("models/extra/") in extra for f in files)
    assert {n.split("/")[0] for n in extra} == {"edge_router_extra_models",
                                                "edge_router_extra_models-0.1.0.dist-info"}


def test_every_registered_file_from_a_package_is_in_the_core_or_the_extra_distribution():
    from edge_router.files.registry import PackageSource, all_specs

    sources = [s for spec in all_specs() for s in spec.sources if isinstance(s, PackageSource)]
    folders = {"edge_router_models": ROOT / "models", "edge_router_extra_models": ROOT / "models" / "extra"}
    assert sources and all((folders[s.package] / s.member).is_file() for s in sources)
    assert all(s.install for s in sources if s.package == "edge_router_extra_models")


def test_old_module_paths_still_work_with_a_deprecation_warning():
    import importlib

    import edge_router.routing.runtime

    with pytest.warns(DeprecationWarning, match="edge_router.runtime moved to edge_router.routing.runtime"):
        old = importlib.import_module("edge_router.runtime")
    assert old is edge_router.routing.runtime
    with pytest.warns(DeprecationWarning, match="training.trainer.train"):
        from edge_router.training import train
    assert train is importlib.import_module("edge_router.training.trainer").train
