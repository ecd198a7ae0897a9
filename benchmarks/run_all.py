"""`make bench`: every benchmarks/bench_<topic>.py in turn, the orchestration benchmark first.

Run: .venv/bin/python -m benchmarks.run_all [--only pipeline,features] [--skip ops]
Each benchmark runs as its own process (its own imports, memory and temporary data folders) with its
default arguments and prints its figures; a failing one is reported and the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ("pipeline",)


def topics() -> list[str]:
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [t for t in FIRST if t in found] + [t for t in found if t not in FIRST]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated topics (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated topics to leave out")
    args = parser.parse_args()
    chosen = [
        t for t in topics() if (not args.only or t in args.only.split(",")) and t not in args.skip.split(",")
    ]
    failed = []
    for topic in chosen:
        print(f"\n=== bench_{topic} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{topic}"], cwd=HERE.parent)
        print(
            f"=== bench_{topic}: {'ok' if code == 0 else f'FAILED ({code})'} in "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )
        if code != 0:
            failed.append(topic)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
