"""Paper trading: seconds per replayed session (the daily run through the paper ledger, then the decay
sensor's tick) on the bundled sample's 20 tickers, and the ledger's tracking of the backtest.

Run: .venv/bin/python -m benchmarks.bench_paper [--home DIR] [--start 2016-01-04] [--until 2022-10-31]
     [--replay-end 2022-11-30]
Setup (timed too): `pmx run` over start..until on the real sample into a fresh home; then
`pmx replay` from the next session to --replay-end. Sessions whose daily run retrained models, or
whose sensor tick launched runs, are reported apart from the plain ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", module="dagster")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--start", default="2016-01-04")
    parser.add_argument("--until", default="2022-10-31")
    parser.add_argument("--replay-end", default="2022-11-30")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="pmx-bench-paper-"))
    os.environ["PMX_HOME"] = str(home)
    from portfolio_dagster.cli import main as pmx
    from portfolio_dagster.config import load_config
    from portfolio_dagster.paths import config_path, warehouse_path
    from portfolio_dagster.replay import replay
    from portfolio_dagster.resources.warehouse import Warehouse

    t0 = time.monotonic()
    if not warehouse_path().exists():
        assert pmx(["run", "--start", args.start, "--end", args.until]) == 0
    print(f"setup: pmx run {args.start}..{args.until} (20 tickers, sample) {time.monotonic() - t0:8.1f} s")
    until = dt.date.fromisoformat(args.until)
    facts: list[dict] = []
    t1 = time.monotonic()
    outcome = replay(
        load_config(config_path()),
        until + dt.timedelta(days=1),
        dt.date.fromisoformat(args.replay_end),
        lambda d, f: facts.append(f | {"date": d}),
    )
    total = time.monotonic() - t1
    plain = [f["session_s"] for f in facts if not f["retrain_due"] and not f["sensor_runs"]]
    daily = [f["daily_run_s"] for f in facts if not f["retrain_due"]]
    print(f"replayed {len(outcome.sessions)} sessions in {total:.1f} s (incl. the final backtest + report)")
    if plain:
        print(
            f"  per session, no retraining, no sensor-launched run: median {statistics.median(plain):.2f} s, "
            f"max {max(plain):.2f} s over {len(plain)} sessions"
        )
    if daily:
        print(
            f"  daily run alone (market data .. paper ledger), no retraining: median "
            f"{statistics.median(daily):.2f} s"
        )
    busy = [f for f in facts if f["retrain_due"] or f["sensor_runs"]]
    for f in busy:
        print(
            f"  {f['date']}: {f['session_s']:.1f} s (retrain due: {f['retrain_due']}; sensor: "
            f"{', '.join(f['sensor_runs']) or '-'})"
        )
    account = Warehouse(path=str(warehouse_path())).query(
        "SELECT daily_return, backtest_return FROM paper_account WHERE daily_return IS NOT NULL "
        "AND backtest_return IS NOT NULL"
    )
    if len(account) > 2:
        corr = account["daily_return"].corr(account["backtest_return"])
        print(
            f"  ledger vs backtest daily return: correlation {corr:.4f} over {len(account)} sessions; "
            f"tracking difference "
            f"{(account['daily_return'] - account['backtest_return']).sum() * 100:+.3f} pp"
        )


if __name__ == "__main__":
    main()
