"""raw_prices_<source>: prices exactly as each source delivered them, one table per source.

Incremental: a run over [start, end) replaces only that range of its table; live sources fetch only the
range plus data.live.overlap_days before it (late corrections), so a daily run's cost does not grow
with the history already stored. A range with no XNYS session (a holiday) is an empty, valid partition."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.assets.stage import MARKET, StageContext, daily_stage
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.restatements import compare_overlap
from portfolio_dagster.resources.alerts import CRITICAL, SOURCE_FAILED, WARNING, raise_alert
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import (
    SAFE_SERIES_NOTE,
    DataError,
    read_csv_actions,
    read_price_csv,
    sample_all,
    series_spans,
)
from portfolio_dagster.resources.sources.actions import split_actions
from portfolio_dagster.resources.sources.alpha_vantage import AlphaVantageSource
from portfolio_dagster.resources.sources.finnhub import FinnhubSource
from portfolio_dagster.resources.sources.http import HttpClient
from portfolio_dagster.resources.sources.throttle import Throttle
from portfolio_dagster.resources.sources.yfinance import YFinanceSource
from portfolio_dagster.resources.warehouse import Warehouse

_COMMON = dict(
    phase=MARKET,
    group_name="market_data",
    kinds={"duckdb", "pandas"},
)
LIVE_SOURCES = ("yfinance", "alpha_vantage", "finnhub")


def _in_window(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    dates = pd.to_datetime(frame["date"])
    return frame[((dates >= pd.Timestamp(start)) & (dates < pd.Timestamp(end))).to_numpy()]


def _store(
    warehouse: Warehouse, table: str, frame: pd.DataFrame, start: dt.date, end: dt.date, **metadata: object
) -> dg.MaterializeResult:
    frame = frame.assign(ingested_at=pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"))
    warehouse.replace_range(table, frame, start, end)
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "tickers": int(frame["ticker"].nunique()),
            "newest": str(max(frame["date"])) if len(frame) else "none",
            **metadata,
        }
    )


@daily_stage(
    **_COMMON,
    description="Bundled sample: 20 US large caps and the S&P 500 index (skfolio, adjusted "
    "closes 1990-01-02..2022-12-28), CASH from the Fama-French risk-free rate (to 2018-11-30) and a "
    "BOND total-return proxy from Moody's AAA yields (to 2019-01-31); no rows past a series' end.",
)
def raw_prices_sample(
    context: StageContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    frame = _in_window(sample_all(cfg.data.benchmark), start, end)
    if cfg.data.tickers is not None:
        frame = frame[frame["ticker"].isin(instruments(cfg))]
    ended = sorted(
        t
        for t, span in series_spans(sample_all(cfg.data.benchmark)).items()
        if dt.date.fromisoformat(span.split("..")[1]) < end - dt.timedelta(days=1)
    )
    return _store(
        warehouse,
        "raw_prices_sample",
        frame,
        start,
        end,
        series_spans=dg.MetadataValue.json(series_spans(frame) if len(frame) else {}),
        series_ended_before_window_end=", ".join(ended) or "none",
        note=SAFE_SERIES_NOTE,
    )


@daily_stage(**_COMMON, description="A user's CSV file (date,ticker,close[,open,high,low,volume]), as read.")
def raw_prices_csv(
    context: StageContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    cfg = settings.config.data
    start, end = context.window
    if not cfg.csv_path:
        raise dg.Failure("the csv source needs data.csv_path (pmx run --csv PATH)")
    # A vendor file re-delivered back-adjusted: its rows of the overlap before the range vs the stored ones.
    overlap = overlap_start(start, cfg.live.overlap_days)
    frame = read_price_csv(cfg.csv_path, (overlap, end))
    _rebase_restated(warehouse, "csv", frame, overlap, end)
    actions = _in_window(read_csv_actions(cfg.csv_path), start, end)
    warehouse.replace_actions("csv", actions, start, end)
    return _store(
        warehouse, "raw_prices_csv", _in_window(frame, start, end), start, end, corporate_actions=len(actions)
    )


def _rebase_restated(
    warehouse: Warehouse, source: str, frame: pd.DataFrame, start: dt.date, end: dt.date
) -> None:
    """Compare the refetched rows with the stored ones of the same dates: a common-factor change re-bases
    the stored history (and is recorded as a restatement); any other change stops the run in one line."""
    stored = warehouse.query(
        f"SELECT ticker, date, close FROM raw_prices_{source} WHERE date >= ? AND date < ?", [start, end]
    )
    if stored.empty or frame.empty:
        return
    stored["date"] = pd.to_datetime(stored["date"])
    check = compare_overlap(stored, frame.assign(date=pd.to_datetime(frame["date"])))
    if check.errors:
        raise dg.Failure(f"{source}: data error, not stored: {check.errors[0]}")
    warehouse.rebase(source, check.restatements)


def instruments(cfg) -> list[str]:
    """Every ticker a source delivers for this config: the universe, the benchmark and the safe sleeve."""
    return sorted({*(cfg.data.tickers or ()), cfg.data.benchmark, *cfg.strategy.priced_safe_assets()})


def live_source(name: str, settings: PipelineSettings, keys: ProviderKeys):
    """The configured client of one live provider (the key read from the environment here, only)."""
    live = settings.config.data.live
    cache = None
    if live.cache_dir:
        cache = Path(live.cache_dir) if Path(live.cache_dir).is_absolute() else paths.home() / live.cache_dir
    if name == "yfinance":
        # yfinance does its own HTTP; it gets the same limiter, retries and cache as the HTTP sources.
        return YFinanceSource(
            throttle=Throttle(
                name,
                cache,
                live.requests_per_minute.get(name, 60.0),
                max_retries=live.max_retries,
                backoff_seconds=live.backoff_seconds,
            )
        )
    client = HttpClient(
        name,
        cache,
        live.requests_per_minute.get(name, 60.0),
        max_retries=live.max_retries,
        backoff_seconds=live.backoff_seconds,
        timeout_seconds=live.timeout_seconds,
    )
    source_class = {"alpha_vantage": AlphaVantageSource, "finnhub": FinnhubSource}[name]
    return source_class(client, keys.key(name))


def overlap_start(start: dt.date, overlap_days: int) -> dt.date:
    """The session `overlap_days` trading days before `start` (start itself when 0)."""
    before = sessions(start - dt.timedelta(days=2 * overlap_days + 10), start)
    return before[-overlap_days].date() if overlap_days and len(before) else start


def fetch_range(source, tickers: list[str], start: dt.date, end: dt.date, today: dt.date) -> pd.DataFrame:
    """Every ticker's rows in [start, end); nothing fetched when the range holds no trading day."""
    if sessions(start, end).empty:
        return pd.DataFrame(columns=["ticker", "date", "open", "high", "low", "close", "volume"])
    frames = [source.fetch(t, start, end, today) for t in tickers]
    return pd.concat(frames, ignore_index=True)


def _live_asset(name: str):
    @daily_stage(
        **_COMMON,
        name=f"raw_prices_{name}",
        description=f"Daily prices from {name}, adjusted; each run fetches its range plus "
        "data.live.overlap_days before it, with retries, a rate limit and a disk cache.",
    )
    def _asset(
        context: StageContext,
        settings: PipelineSettings,
        warehouse: Warehouse,
        provider_keys: ProviderKeys,
    ) -> dg.MaterializeResult:
        cfg = settings.config
        start, end = context.window
        if not cfg.data.tickers:
            raise dg.Failure(f"the {name} source needs a universe: data.tickers (pmx run --tickers A,B)")
        tickers = instruments(cfg)
        fetch_start = overlap_start(start, cfg.data.live.overlap_days)
        try:
            frame = fetch_range(
                live_source(name, settings, provider_keys), tickers, fetch_start, end, dt.date.today()
            )
        except DataError as exc:
            fallbacks = [s for s in cfg.data.sources if s != name]
            raise_alert(
                warehouse,
                cfg,
                SOURCE_FAILED,
                f"{exc}; "
                + (f"falling back to {', '.join(fallbacks)}" if fallbacks else "no fallback source"),
                severity=WARNING if fallbacks else CRITICAL,
                run_id=context.run_id,
                log=context.log,
                details={
                    "source": name,
                    "range": f"{fetch_start}..{end - dt.timedelta(days=1)}",
                    "fallback_to": ", ".join(fallbacks) or None,
                },
            )
            if not fallbacks:
                raise dg.Failure(str(exc)) from None
            # An outage (after retries) must not stop the day: keep this table's stored rows and let
            # `prices` take the range from the next source in priority order.
            context.log.warning(f"{name} failed, falling back to {', '.join(fallbacks)}: {exc}")
            return dg.MaterializeResult(
                metadata={"rows": 0, "source_failed": str(exc), "fallback_to": ", ".join(fallbacks)}
            )
        frame, actions = split_actions(frame)
        _rebase_restated(warehouse, name, frame, fetch_start, end)
        warehouse.replace_actions(name, actions, fetch_start, end)
        return _store(
            warehouse,
            f"raw_prices_{name}",
            frame,
            fetch_start,
            end,
            fetched_from=str(fetch_start),
            corporate_actions=len(actions),
        )

    return _asset


raw_prices_yfinance = _live_asset("yfinance")
raw_prices_alpha_vantage = _live_asset("alpha_vantage")
raw_prices_finnhub = _live_asset("finnhub")

RAW_PRICE_ASSETS = {
    "sample": raw_prices_sample,
    "csv": raw_prices_csv,
    "yfinance": raw_prices_yfinance,
    "alpha_vantage": raw_prices_alpha_vantage,
    "finnhub": raw_prices_finnhub,
}
