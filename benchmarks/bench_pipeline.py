"""Wall time and peak memory of the default `pmx run` (full bundled sample) in a fresh data folder.

Run: .venv/bin/python -m benchmarks.bench_pipeline [extra pmx run flags]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"PMX_HOME": str(Path(tmp) / "data")}
        env.pop("PMX_CONFIG", None)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "portfolio_dagster.cli", "run", *argv], env=env,
                              capture_output=True, text=True)
        wall = time.monotonic() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(proc.stdout)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(proc.returncode)
        print(f"default pmx run: wall {wall:.0f} s, peak RSS {peak_mib:.0f} MiB (target: within 600 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
