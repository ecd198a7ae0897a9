"""Kill score per mutated file from mutmut's results under mutants/ (after `mutmut run`).

score = killed / (killed + survived + timeout + suspicious); mutants without a covering test are
counted apart ("no tests") and named, since no test can kill them.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3}  # mutmut: test failure or pytest internal error
SURVIVED = {0}
NO_TESTS = {5, 33}
NOT_RUN = {None, 2, 34}  # not checked, interrupted, skipped


def file_scores(root: Path = Path("mutants")) -> list[dict]:
    rows = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = dict.fromkeys(("killed", "survived", "no_tests", "not_run", "other"), 0) | Counter(
            "killed"
            if c in KILLED
            else "survived"
            if c in SURVIVED
            else "no_tests"
            if c in NO_TESTS
            else "not_run"
            if c in NOT_RUN
            else "other"
            for c in codes.values()
        )
        judged = counts["killed"] + counts["survived"] + counts["other"]
        rows.append(
            {
                "file": str(meta.relative_to(root))[: -len(".meta")],
                "mutants": len(codes),
                **counts,
                "score": counts["killed"] / judged if judged else float("nan"),
                "survivors": sorted(k for k, c in codes.items() if c in SURVIVED),
            }
        )
    return rows


def main() -> int:
    rows = file_scores()
    if not rows:
        print("no mutmut results under mutants/: run `mutmut run` first")
        return 1
    for r in rows:
        print(
            f"{r['file']}: {r['score']:.1%} killed "
            f"({r['killed']}/{r['killed'] + r['survived'] + r['other']}; "
            f"survived {r['survived']}, timeout/suspicious {r['other']}, no tests {r['no_tests']}, "
            f"not run {r['not_run']})"
        )
    if "--survivors" in sys.argv:
        for r in rows:
            for name in r["survivors"]:
                print("  survived:", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
