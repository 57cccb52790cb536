"""The README's SDK snippet runs as written, against a loopback cloud, with the default models."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def sdk_snippets() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if "from edge_router import" in b]


def test_the_readme_has_an_sdk_snippet():
    assert sdk_snippets(), "the README's SDK example is a ```python block importing edge_router"


@pytest.mark.real_models
@pytest.mark.parametrize("snippet", sdk_snippets())
def test_readme_sdk_snippet_runs_as_written(snippet, cloud_server, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(snippet, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_ROUTER_")}
    env.update(EDGE_ROUTER_CLOUD_BASE_URL=cloud_server.base_url, EDGE_ROUTER_CLOUD_MODEL="m1")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()


CITED = re.compile(r"((?:benchmarks/results|models/[\w/]+)/[\w\-]+(?:\.[\w\-]+)*\.(?:md|json))(?![\w.])")
FIGURE = re.compile(r"(?<![\w.\-/])(\d{1,3}(?:,\d{3})+|\d+\.\d+)(?![.\d]*[A-Za-z_/])(?!\.\d)")


def readme_figures() -> list[tuple[str, list[str], list[str]]]:
    """(the passage's start, the result files it cites, its figures) for every README passage (paragraph or list
    item) that cites a result file."""
    passages = re.split(r"\n\s*\n|\n(?=\s*- )", README.read_text(encoding="utf-8"))
    out = []
    for passage in passages:
        files = sorted(set(CITED.findall(passage)))
        figures = FIGURE.findall(passage)
        if files and figures:
            out.append((passage.strip()[:80], files, figures))
    return out


def test_every_figure_the_readme_quotes_is_in_the_result_file_it_cites():
    root = README.parent
    wrong = []
    for start, files, figures in readme_figures():
        missing_files = [f for f in files if not (root / f).is_file()]
        assert not missing_files, f"the README cites {missing_files}, which do not exist"
        text = "".join((root / f).read_text(encoding="utf-8") for f in files)
        for figure in figures:
            if figure not in text and figure.replace(",", "") not in text:
                wrong.append(f"{figure} (in {files}): {start!r}")
    assert not wrong, "README figures not found in the result files they cite:\n" + "\n".join(wrong)
    assert len(readme_figures()) >= 5, "the check found the README's cited passages"
