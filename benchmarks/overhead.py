"""What the router costs next to the local model and the cloud call, on this machine.

Writes benchmarks/results/overhead.{md,json,png}. Usage:

    python benchmarks/overhead.py [--quick] [--router PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge_router.cli import main

RESULTS = Path(__file__).parent / "results"

if __name__ == "__main__":
    extra = sys.argv[1:]
    outputs = ["--json", str(RESULTS / "overhead.json"), "--report", str(RESULTS / "overhead.md")]
    sys.exit(main(["bench", *outputs, *extra]))
