"""Every table of two warehouses, compared row for row (issue 13: orchestration must not change data).

Columns that record when or where something ran (TIMESTAMP columns such as ingested_at and trained_at,
run and alert ids, artifact paths under the data folder) are left out. Rows, keys, strings and integers
must be identical; floats within FLOAT_RTOL/FLOAT_ATOL: a range computed in two pieces (history, then
the last days, whose targets refresh window is recomputed) rounds a few values differently in the last
bits (seen: 2e-14 on a risk-adjusted return of 0.2), which says nothing about the data.
Also a script: `python tests/warehouse_compare.py A.duckdb B.duckdb` prints the tables that differ and
the largest float difference of those that match.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd

VOLATILE_COLUMNS = {"run_id", "artifact", "alert_id"}
FLOAT_RTOL, FLOAT_ATOL = 1e-10, 1e-13


def tables(path: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        out = {}
        for name in names:
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [name],
            ).fetchall()
            keep = [c for c, t in cols if not t.startswith("TIMESTAMP") and c not in VOLATILE_COLUMNS]
            frame = (
                con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in keep)} FROM "{name}"').df()
                if keep
                else pd.DataFrame()
            )
            out[name] = frame.sort_values(keep).reset_index(drop=True) if keep and len(frame) else frame
        return out
    finally:
        con.close()


def differences(a: Path, b: Path) -> list[str]:
    """The tables that differ (missing on one side, other rows or values), one line each."""
    left, right = tables(a), tables(b)
    diff = [f"{t}: only in {a if t in left else b}" for t in sorted(set(left) ^ set(right))]
    for name in sorted(set(left) & set(right)):
        try:
            pd.testing.assert_frame_equal(
                left[name], right[name], check_exact=False, rtol=FLOAT_RTOL, atol=FLOAT_ATOL, check_dtype=True
            )
        except AssertionError as exc:
            diff.append(f"{name}: {str(exc).splitlines()[0]} ({len(left[name])} vs {len(right[name])} rows)")
    return diff


def largest_float_difference(a: Path, b: Path) -> dict[str, float]:
    """Per table with the same shape on both sides: the largest absolute difference of a float cell."""
    left, right = tables(a), tables(b)
    out = {}
    for name in sorted(set(left) & set(right)):
        x, y = left[name], right[name]
        if x.shape != y.shape or list(x.columns) != list(y.columns):
            continue
        floats = [c for c in x.columns if pd.api.types.is_float_dtype(x[c])]
        gap = max(((x[c] - y[c]).abs().max() for c in floats), default=0.0)
        out[name] = float(0.0 if pd.isna(gap) else gap)
    return out


if __name__ == "__main__":
    found = differences(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) if found else "identical (floats within the tolerance)")
    gaps = {t: g for t, g in largest_float_difference(Path(sys.argv[1]), Path(sys.argv[2])).items() if g}
    print("largest float differences: " + (", ".join(f"{t} {g:.1e}" for t, g in gaps.items()) or "none"))
    sys.exit(1 if found else 0)
