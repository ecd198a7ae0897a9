"""Re-run mutmut's surviving mutants of some files against a chosen test selection, each mutant in its
own pytest process (MUTANT_UNDER_TEST, mutmut's own switch), and print the kill score per file.

Why: after new tests are written against the survivors of a `make mutate` run, this re-judges only those
survivors (minutes) instead of every mutant again (mutmut 3.8 also keeps cached results when only tests
change). Copy the new test files into mutants/tests first. Run after `make mutate`:

  .venv/bin/python -m benchmarks.mutation_recheck backtest trading -- \
      tests/test_backtest.py tests/test_trading.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MUTANTS = Path("mutants")


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__)
        return 2
    split = argv.index("--")
    modules, tests = argv[:split], argv[split + 1 :]
    for module in modules:
        meta = MUTANTS / "portfolio_dagster" / "quant" / f"{module}.py.meta"
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        survivors = sorted(k for k, c in codes.items() if c == 0)
        judged = sum(1 for c in codes.values() if c in (0, 1, 3, 24, 36))
        killed_before = sum(1 for c in codes.values() if c in (1, 3))
        still = []
        for key in survivors:
            env = os.environ | {"MUTANT_UNDER_TEST": key, "OMP_NUM_THREADS": "1"}
            rc = subprocess.call(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-p",
                    "no:xdist",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:warnings",
                    *tests,
                ],
                cwd=MUTANTS,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if rc == 0:
                still.append(key)
        killed = killed_before + len(survivors) - len(still)
        print(f"quant/{module}.py: {killed / judged:.1%} killed ({killed}/{judged}); {len(still)} survive:")
        for key in still:
            print(f"  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
