"""Start-up cost of the CLI: `datakit --help` wall time next to a bare interpreter and to
importing Great Expectations (what a CLI that imported its stages eagerly would pay).

    .venv/bin/python bench/bench_cli.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    bare = wall([sys.executable, "-c", "pass"], args.runs)
    helptime = wall([str(BIN / "datakit"), "--help"], args.runs)
    gx = wall([sys.executable, "-c", "import great_expectations"], max(3, args.runs // 2))
    print(f"python -c pass                   {bare:6.3f} s")
    print(f"datakit --help                   {helptime:6.3f} s   (target: well under 0.5 s)")
    print(f"python -c 'import great_expectations' {gx:6.3f} s")
    print(f"ratio datakit --help / bare python: {helptime / bare:.1f}x")
    print(f"ratio datakit --help / GX import:   {helptime / gx:.2f}x")


if __name__ == "__main__":
    main()
