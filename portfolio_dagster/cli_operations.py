"""`pmx replay` and `pmx paper reset`: operating the platform session by session."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from portfolio_dagster import paths


def add_parsers(sub: argparse._SubParsersAction, date: Callable[[str], dt.date]) -> None:
    replay = sub.add_parser("replay", help="operate day by day over past sessions as the daemon would live")
    replay.add_argument("--start", type=date, required=True)
    replay.add_argument("--end", type=date, required=True)
    replay.add_argument(
        "--config",
        type=Path,
        default=None,
        help="pipeline YAML (default: the last `pmx run`'s config in the data folder)",
    )
    replay.add_argument(
        "--warehouse", type=Path, default=None, help="DuckDB file (default: data/warehouse.duckdb)"
    )
    replay.add_argument("--debug", action="store_true", help="show tracebacks")
    paper = sub.add_parser("paper", help="the paper-trading ledger")
    paper_sub = paper.add_subparsers(dest="paper_command", required=True)
    reset = paper_sub.add_parser(
        "reset", help="delete the ledger's rows (from a date on), saying what was removed"
    )
    reset.add_argument(
        "--from", dest="since", type=date, default=None, help="first session to remove (default: all)"
    )
    reset.add_argument("--warehouse", type=Path, default=None)
    reset.add_argument("--debug", action="store_true", help="show tracebacks")


def _use_paths(args: argparse.Namespace) -> None:
    if getattr(args, "warehouse", None):
        os.environ["PMX_WAREHOUSE"] = str(args.warehouse.resolve())
    if getattr(args, "config", None):
        os.environ["PMX_CONFIG"] = str(args.config.resolve())


def cmd_replay(args: argparse.Namespace, error: type[Exception]) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from portfolio_dagster.config import load_config
    from portfolio_dagster.partitions import configured_daily_partitions
    from portfolio_dagster.replay import replay, sessions_between

    _use_paths(args)
    if args.end < args.start:
        raise error(f"--end {args.end} is before --start {args.start}")
    if not paths.warehouse_path().exists():
        raise error(
            f"no warehouse at {paths.warehouse_path()}: run `pmx run` up to the day before --start first"
        )
    config = load_config(paths.config_path())
    sessions = sessions_between(args.start, args.end)
    if not sessions:
        raise error(f"no exchange session in {args.start}..{args.end}")
    daily_start = configured_daily_partitions(config).start.date()
    if sessions[0] < daily_start:
        raise error(
            f"--start {sessions[0]} is before the daily partitions, which begin at {daily_start} (the last "
            f"week of the history `pmx run` loaded to {config.data.end}): replay from there, `pmx run "
            f"--end` an earlier date first, or set operations.daily_partitions_from"
        )
    columns = (
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[session]}"),
        TextColumn("NAV {task.fields[nav]}"),
        TextColumn("alerts {task.fields[alerts]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("replay", total=len(sessions), session="", nav="-", alerts=0)

        def on_session(d: dt.date, facts: dict) -> None:
            nav = f"{facts['nav_usd']:,.0f}" if facts["nav_usd"] is not None else "-"
            progress.update(task, advance=1, session=d.isoformat(), nav=nav, alerts=facts["alerts"])

        outcome = replay(config, args.start, args.end, on_session)
        progress.update(task, completed=len(outcome.sessions) + len(outcome.skipped))
    print(
        f"replayed {len(outcome.sessions)} session(s), {len(outcome.skipped)} already booked"
        + (f"; decay sensor launched {', '.join(outcome.sensor_runs)}" if outcome.sensor_runs else "")
    )
    if outcome.interrupted:
        print(f"stopped after {outcome.sessions[-1]} (Ctrl-C); run the same command again to resume")
    _print_book()
    return 0


def _print_book() -> None:
    from portfolio_dagster.resources.warehouse import Warehouse

    warehouse = Warehouse(path=str(paths.warehouse_path()))
    account = warehouse.query(
        "SELECT date, nav_usd, cash_usd, daily_return, backtest_return, benchmark_return "
        "FROM paper_account ORDER BY date DESC LIMIT 5"
    )
    if account.empty:
        print("paper ledger: no session booked")
        return
    print("paper ledger (latest sessions):")
    print(account.iloc[::-1].to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
    held = warehouse.query(
        "SELECT ticker, quantity, price, weight FROM paper_latest_positions ORDER BY weight DESC"
    )
    print(held.to_string(index=False, float_format=lambda v: f"{v:,.4f}") if len(held) else "no holdings")


def cmd_paper(args: argparse.Namespace, error: type[Exception]) -> int:
    from portfolio_dagster.assets.paper import PAPER_TABLES
    from portfolio_dagster.resources.warehouse import Warehouse

    _use_paths(args)
    if not paths.warehouse_path().exists():
        raise error(f"no warehouse at {paths.warehouse_path()}")
    warehouse = Warehouse(path=str(paths.warehouse_path()))
    # Fills are removed by the session they executed on; the orders of the session before stay and
    # fill again when that session is re-booked.
    removed = warehouse.delete_from(PAPER_TABLES, "date", args.since)
    what = ", ".join(f"{n} {t}" for t, n in removed.items())
    print(f"paper reset{f' from {args.since}' if args.since else ''}: removed {what}")
    return 0
