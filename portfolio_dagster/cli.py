"""`pmx`: run the pipeline as real Dagster runs, open the UI, show the latest report."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from portfolio_dagster import cli_operations, paths
from portfolio_dagster.config import DEFAULT_CONFIG_PATH, SOURCES, ConfigError, PipelineConfig, load_config
from portfolio_dagster.instance import InstanceError
from portfolio_dagster.library_log import route_library_output
from portfolio_dagster.pipeline_runner import RunFailed
from portfolio_dagster.pipeline_summary import silence_library_notices
from portfolio_dagster.resources.sources import SAMPLE_SPAN, DataError, read_csv_actions, read_price_csv
from portfolio_dagster.resources.sources.sample import SAMPLE_ONLY_SERIES, sample_series


class CliError(Exception):
    """A user mistake or a failed run: printed as one line, exit code 1."""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmx", description="Portfolio Maximizer")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialize every stage over a date range")
    run.add_argument(
        "--config", type=Path, default=None, help="pipeline YAML (default: config/pipeline.yaml)"
    )
    run.add_argument("--source", choices=SOURCES, default=None)
    run.add_argument("--csv", type=Path, default=None, help="price CSV for --source csv")
    run.add_argument("--tickers", default=None, help="comma-separated tickers (default: all)")
    run.add_argument("--start", type=_date, default=None)
    run.add_argument("--end", type=_date, default=None)
    run.add_argument(
        "--warehouse", type=Path, default=None, help="DuckDB file (default: data/warehouse.duckdb)"
    )
    run.add_argument(
        "--benchmark", default=None, help="the index to compare against (default: data.benchmark)"
    )
    run.add_argument("--debug", action="store_true", help="show tracebacks")
    ui = sub.add_parser("ui", help="the Dagster UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    sub.add_parser("report", help="the latest summary and report path")
    bench = sub.add_parser(
        "bench", help="run benchmarks/bench_<topic>.py (e.g. features) and print its figures"
    )
    bench.add_argument("topic")
    cli_operations.add_parsers(sub, _date)
    return parser


def effective_config(args: argparse.Namespace) -> PipelineConfig:
    base = load_config(args.config or DEFAULT_CONFIG_PATH)
    overrides: dict[str, object] = {
        "start": args.start,
        "end": args.end,
        "benchmark": (getattr(args, "benchmark", None) or "").strip() or None,
    }
    if args.source:
        overrides["sources"] = (args.source,)
    if args.csv:
        overrides["csv_path"] = str(args.csv.resolve())
        overrides.setdefault("sources", ("csv",))
    if args.tickers is not None:
        tickers = tuple(t.strip() for t in args.tickers.split(",") if t.strip())
        if not tickers:
            raise CliError("--tickers names no ticker")
        overrides["tickers"] = tickers
    config = base.with_overrides(**overrides)
    _check_inputs(config)
    return config


def _check_inputs(config: PipelineConfig) -> None:
    """Fail fast, before any run touches the warehouse, on inputs no run could use."""
    from portfolio_dagster.partitions import PARTITIONS_START

    data = config.data
    if data.start < PARTITIONS_START:
        raise CliError(f"--start {data.start} is before the first partition {PARTITIONS_START}")
    if data.start > dt.date.today():
        raise CliError(f"--start {data.start} is in the future")
    if config.backtest.start > data.end:
        raise CliError(
            f"backtest.start {config.backtest.start} is after --end {data.end}: nothing to backtest"
        )
    known: set[str] = set()
    if "sample" in data.sources:
        lo, hi = SAMPLE_SPAN
        if data.end < lo or data.start > hi:
            raise CliError(f"empty date range: the sample spans {lo}..{hi}, asked {data.start}..{data.end}")
        known |= sample_series(data.benchmark)
    if "csv" in data.sources:
        frame = read_price_csv(data.csv_path)
        read_csv_actions(data.csv_path)  # a bad split_ratio or dividend stops here, in one line
        if frame.empty:
            raise CliError(f"{data.csv_path}: no data rows")
        dates = frame["date"]
        if not ((dates >= data.start) & (dates <= data.end)).any():
            raise CliError(f"empty date range: {data.csv_path} has no rows in {data.start}..{data.end}")
        known |= set(frame["ticker"].dropna())
    live = [s for s in data.sources if s not in ("sample", "csv")]
    if live and not data.tickers:
        raise CliError(f"the {live[0]} source needs a universe: --tickers A,B or data.tickers")
    from portfolio_dagster.resources.provider_keys import KEY_ENV

    keyless = [s for s in live if s in KEY_ENV and not os.environ.get(KEY_ENV[s])]
    if keyless:
        raise CliError(
            f"the {keyless[0]} source needs an API key: set the environment variable {KEY_ENV[keyless[0]]}"
            f" (or leave {keyless[0]} out of data.sources, e.g. --source yfinance)"
        )
    if data.tickers and known and set(data.sources) <= {"sample", "csv"}:
        unknown = sorted(set(data.tickers) - known)
        if unknown:
            raise CliError(f"unknown ticker(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}")
    _check_barbell_inputs(config, known, live)


def _check_barbell_inputs(config: PipelineConfig, known: set[str], live: list[str]) -> None:
    """The benchmark and the safe sleeve must be in the data: without them the run would compute every
    stage and fail in the backtest (or hold a cash sleeve with no price)."""
    data, safe = config.data, config.strategy.priced_safe_assets()
    if live:
        # Live data cannot be listed before fetching; refuse the sample's own names, no provider has them.
        synthetic = [t for t in (data.benchmark, *safe) if t in SAMPLE_ONLY_SERIES and t not in known]
        if synthetic:
            raise CliError(
                f"{synthetic[0]} is a series of the bundled sample, which the {live[0]} source does "
                "not have: use --config config/live.yaml (SPY, BIL, TLT) or set data.benchmark "
                "and strategy.safe_assets to real tickers"
            )
        return
    where = ", ".join(
        f"the CSV {data.csv_path}" if s == "csv" else "the bundled sample"
        for s in data.sources
        if s in ("sample", "csv")
    )
    if data.benchmark not in known:
        raise CliError(
            f"benchmark {data.benchmark} is not in the data ({where}): pass --benchmark TICKER "
            f"with a ticker it has, e.g. {', '.join(sorted(known - set(safe))[:5])}"
        )
    missing = [t for t in safe if t not in known]
    if missing:
        raise CliError(
            f"safe-sleeve ticker {missing[0]} (strategy.safe_assets) is not in the data ({where}): "
            "add its prices, or set strategy.safe_assets in --config ([] for a stock-only file: "
            "the safe sleeve is then uninvested cash)"
        )


def _partition_keys(start: dt.date, end: dt.date) -> tuple[str, str]:
    from portfolio_dagster.partitions import weekday_keys

    first, last = weekday_keys(start, end)
    if last < first:
        raise CliError(f"empty date range: no weekday in {start}..{end}")
    return first.isoformat(), last.isoformat()


def cmd_run(args: argparse.Namespace) -> int:
    config = effective_config(args)
    home = paths.home()
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / paths.EFFECTIVE_CONFIG
    config_file.write_text(config.to_yaml())
    os.environ["PMX_CONFIG"] = str(config_file)
    if args.warehouse:
        os.environ["PMX_WAREHOUSE"] = str(args.warehouse.resolve())

    from portfolio_dagster.pipeline_execution import run_pipeline
    from portfolio_dagster.pipeline_progress import StageProgress, load_stage_seconds, save_stage_seconds
    from portfolio_dagster.pipeline_summary import checks_line

    started = time.monotonic()
    progress = StageProgress()
    progress.expect(load_stage_seconds(home))
    try:
        outcome = run_pipeline(
            config,
            _partition_keys(config.data.start, config.data.end),
            echo=print,
            progress=progress,
            debug=args.debug,
        )
    finally:
        progress.stop()
    progress.summary(outcome.stages, time.monotonic() - started)
    save_stage_seconds(home, outcome.stages)
    print(checks_line(outcome.checks))
    return cmd_report(args)


def cmd_report(args: argparse.Namespace) -> int:
    from portfolio_dagster.pipeline_summary import latest_summary

    table, latest, report_path = latest_summary()
    if table is None:
        raise CliError(f"no backtest in {paths.warehouse_path()}: run `pmx run` first")
    print(table)
    if latest is not None:
        print(latest)
    print(f"report: {report_path}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from portfolio_dagster.instance import prepare_home

    prepare_home()
    os.environ.setdefault("PMX_CONFIG", str(paths.config_path()))
    os.environ.setdefault("PMX_WAREHOUSE", str(paths.warehouse_path()))
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        "127.0.0.1",
        "-p",
        str(args.port),
        "-m",
        "portfolio_dagster.definitions",
    ]

    def restore_signals() -> None:
        # A background launcher may have ignored these; dagster dev must be stoppable.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    print(f"Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
    proc = subprocess.Popen(cmd, preexec_fn=restore_signals)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()


def cmd_bench(args: argparse.Namespace) -> int:
    """`pmx bench features` == `python -m benchmarks.bench_features` from the repository root."""
    root = Path(__file__).resolve().parents[1]
    if not args.topic.isidentifier() or not (root / "benchmarks" / f"bench_{args.topic}.py").exists():
        raise CliError(f"no benchmark {args.topic!r}: expected benchmarks/bench_{args.topic}.py")
    return subprocess.call([sys.executable, "-m", f"benchmarks.bench_{args.topic}"], cwd=root)


COMMANDS = {
    "run": cmd_run,
    "report": cmd_report,
    "ui": cmd_ui,
    "bench": cmd_bench,
    "replay": lambda args: cli_operations.cmd_replay(args, CliError),
    "paper": lambda args: cli_operations.cmd_paper(args, CliError),
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not getattr(args, "debug", False):
        silence_library_notices()
    route_library_output(paths.home(), debug=getattr(args, "debug", False))
    try:
        return COMMANDS[args.command](args)
    except (CliError, ConfigError, DataError, InstanceError, RunFailed) as exc:
        if args.debug:
            raise
        print(f"pmx: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pmx: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
