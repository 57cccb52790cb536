"""Sizes of the two distributions built from this repository: the core wheel (what the default decision loads)
and ``edge-router-extra-models`` (the NLI classifiers and the static token table), with their largest members.

Writes ``benchmarks/results/wheels.md``. Run from the repository root: ``python benchmarks/wheels.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "wheels.md"


def build(source: Path, dist: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(dist), str(source)], check=True)
    (wheel,) = dist.glob("*.whl")
    return wheel


def describe(wheel: Path) -> list[str]:
    members = sorted(zipfile.ZipFile(wheel).infolist(), key=lambda m: -m.compress_size)
    lines = [f"## `{wheel.name}`: {wheel.stat().st_size / 1e6:.1f} MB ({len(members)} files)", "",
             "| member | stored MB | unpacked MB |", "|---|---:|---:|"]
    lines += [f"| `{m.filename}` | {m.compress_size / 1e6:.1f} | {m.file_size / 1e6:.1f} |" for m in members[:6]]
    return lines + [""]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        core = build(ROOT, Path(tmp) / "core")
        extra = build(ROOT / "models" / "extra", Path(tmp) / "extra")
        lines = ["# Wheel sizes", "",
                 "Built by `benchmarks/wheels.py` (`pip wheel --no-deps`) from this checkout. The core wheel holds "
                 "what the default decision loads (target: at most 30 MB); the extra-models wheel what only the "
                 "semantic-entropy gate's NLI clusterers and the static-table embedder load "
                 "(`pip install 'edge-router[extra-models]'`).", ""]
        lines += describe(core) + describe(extra)
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
