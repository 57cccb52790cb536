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
