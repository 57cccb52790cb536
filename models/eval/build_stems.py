"""Write ``evaluation_stems.txt.gz``: the hashed stems of every evaluation question (GSM8K test, MMLU test,
MT-Bench first turns), which ``edge-router label`` checks prompts against without the benchmark data.

    python models/eval/build_stems.py
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from edge_router.data.datasets import evaluation_stems, hash_stem

OUT = Path(__file__).parent / "evaluation_stems.txt.gz"


def main() -> int:
    hashes = sorted({hash_stem(s) for s in evaluation_stems()})
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:  # the same bytes on every rebuild
        out.write("".join(h + "\n" for h in hashes).encode("ascii"))
    print(f"{len(hashes)} stems -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
