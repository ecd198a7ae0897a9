"""Cost of publishing the warehouse users read (resources/publication.py): CHECKPOINT the working copy,
copy it beside the published file, fsync, rename. Measured on a copy of a real warehouse (default: the one
of the last `pmx run`, data/warehouse.duckdb; the full sample is 366 MB), once per unit of work.

Run: .venv/bin/python -m benchmarks.bench_publish [--warehouse data/warehouse.duckdb]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from portfolio_dagster import paths
from portfolio_dagster.resources import publication
from portfolio_dagster.resources.warehouse import _open

REPEATS = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path, default=paths.warehouse_path())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.warehouse.parent) as tmp:  # same disk as the warehouse
        published = Path(tmp) / "warehouse.duckdb"
        publication.state_dir(published).mkdir()
        shutil.copyfile(args.warehouse, publication.working_path(published))
        seconds = [publication.publish(published, _open) for _ in range(REPEATS)]
        size = published.stat().st_size / 1e6
    print(
        f"publish {size:.0f} MB: median {statistics.median(seconds):.2f} s, "
        f"min {min(seconds):.2f} s, max {max(seconds):.2f} s over {REPEATS}"
    )


if __name__ == "__main__":
    main()
