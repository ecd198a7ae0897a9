"""risk_forecasts: each name's and the equal-weight universe's volatility over every horizon, made at the
close of each date by the walk-forward risk model (quant/risk.py), with the baselines beside it."""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.stage import DECISIONS, StageContext, daily_stage
from portfolio_dagster.assets.threads import on_threads, one_ahead
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.partitions import PARTITIONS_START, year_pieces
from portfolio_dagster.quant import risk, risk_metrics, risk_state, risk_walk_forward, walk_forward
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

# Rows one risk model trains on at most (every k-th of its window): the fits stay about a second each.
RISK_MAX_TRAIN_ROWS = 50_000


def risk_forecast_pieces(
    warehouse: Warehouse, cfg: PipelineConfig, start: dt.date, end: dt.date, cache: Path | None = None
) -> Iterator[tuple[dt.date, dt.date, pd.DataFrame, pd.DataFrame]]:
    """(piece start, piece end, forecasts dated in the piece, inner-window selection) for each calendar
    year of [start, end), from the whole stored price history before `end`, so a value never depends on
    where a run's range begins. The sets are fitted (or read) once; each year's forecasts are made when
    its piece is asked for: a history load holds one year of forecasts (500 names: 2.5 M rows a year,
    all 5 models x 4 horizons), not all of them. The walk-forward settings (retrain frequency, embargo,
    calibration window, minimum history, seed, threads) are the models'. cache: a folder of trained sets
    (native formats, quant/risk_state.py) read instead of refitting and written after a fit; a daily
    session then fits nothing until the next retrain date."""
    m = cfg.models
    pieces = year_pieces(start, end)
    ohlc = warehouse.universe_panels(PARTITIONS_START, end, cfg, ["open", "high", "low", "close"])
    calendar = pd.DatetimeIndex([])
    if not ohlc["close"].empty:
        returns = ohlc["close"].pct_change(fill_method=None)
        calendar = risk.row_dates(returns)
    if calendar.empty:
        for piece_start, piece_end in pieces:
            yield piece_start, piece_end, pd.DataFrame(columns=risk.RISK_COLUMNS), pd.DataFrame()
        return
    first = min(m.min_train_days, len(calendar) - 1)
    refits = walk_forward.retrain_dates(calendar, calendar[first].date(), m.retrain_frequency)
    refits = refits[refits < pd.Timestamp(end)]
    # The sets whose validity reaches the window forecast: the last retrain <= start onward. The earlier
    # ones lend their calibration scores to the choice (risk_walk_forward.choose).
    forecasting = max(0, int(refits.searchsorted(pd.Timestamp(start), side="right")) - 1)
    fingerprints = risk_state.history_fingerprints(ohlc | {"returns": returns}, refits)
    specs = {
        h: risk_walk_forward.RiskSpec(
            horizon=h,
            embargo_days=m.embargo_days,
            calibration_days=m.calibration_days,
            min_train_days=m.min_train_days,
            max_train_rows=RISK_MAX_TRAIN_ROWS,
            seed=m.seed,
            threads=m.threads,
        )
        for h in cfg.targets.horizons
    }
    keys = {h: [risk_state.set_key(specs[h], a, fingerprints[a]) for a in refits] for h in specs}
    # The whole history's rows only when a set must be fitted; else the window's rows alone.
    missing = cache is None or any(not (cache / f"{k}.json").is_file() for ks in keys.values() for k in ks)
    every = risk.risk_rows(returns, cfg.targets.horizons, ohlc) if missing else None
    calendar = pd.DatetimeIndex(every["date"].unique()) if every is not None else None

    def horizon_sets(h: int) -> list[risk_walk_forward.RiskSet]:
        """The sets of horizon h that forecast the window (each choosing with the earlier sets' scores)."""
        sets, earlier = [], []
        for k, (asof, key) in enumerate(zip(refits, keys[h], strict=True)):
            losses = _read_losses(cache, key) if cache is not None and k < forecasting else None
            if losses is None:
                rs = _fitted_set(specs[h], asof, key, cache, every, calendar, earlier)
                losses = rs.calibration_qlike if rs is not None else None
                if rs is not None and k >= forecasting:
                    sets.append(rs)
            if losses is not None:
                earlier.append(losses)
        return sets

    # The horizons fitted at once, on threads (each model's own threads stay models.threads).
    sets = dict(zip(specs, on_threads(horizon_sets, list(specs)), strict=True))
    # The window's rows are the whole history's from `start` on (the same values either way).
    if every is not None:
        window_rows = every[every["date"] >= pd.Timestamp(start)]
        every = None
    else:
        window_rows = risk.risk_rows(returns, cfg.targets.horizons, ohlc, since=start)
    for piece_start, piece_end in pieces:
        dates = window_rows["date"]
        rows = window_rows[(dates >= pd.Timestamp(piece_start)) & (dates < pd.Timestamp(piece_end))]
        made = on_threads(
            lambda h, rows=rows: risk_walk_forward.predict_risk_sets(rows, sets[h], specs[h]), list(specs)
        )
        out, selections = [f for f, _ in made], [x for _, x in made]
        table = pd.concat([f for f in out if len(f)] or out[:1], ignore_index=True)
        selection = pd.concat([x for x in selections if len(x)] or selections[:1], ignore_index=True)
        yield piece_start, piece_end, table, selection


def _fitted_set(
    spec: risk_walk_forward.RiskSpec,
    asof: pd.Timestamp,
    key: str,
    cache: Path | None,
    rows: pd.DataFrame | None,
    calendar: pd.DatetimeIndex | None,
    earlier: list[dict[str, float]],
) -> risk_walk_forward.RiskSet | None:
    """The risk set of `asof`: from the cache, or fitted on the whole history's rows (choosing with the
    `earlier` sets' calibration scores) and cached. None: too little history for a set at `asof` (cached
    too, so a daily session does not rebuild the history's rows to learn it again)."""
    if cache is not None and (cache / f"{key}.json").is_file():
        return _read_set(cache, key)
    assert rows is not None, "risk rows are built whenever a set is not cached"
    rs = risk_walk_forward.train_risk_set(rows, calendar, asof, spec, earlier)
    if cache is not None:
        _write_set(cache, key, rs, asof)
    return rs


def _read_losses(folder: Path, key: str) -> dict[str, float] | None:
    """The cached set `key`'s calibration scores (its header alone; none for a date without a set),
    None when not cached."""
    head = folder / f"{key}.json"
    if not head.is_file():
        return None
    return {k: float(v) for k, v in json.loads(head.read_text()).get("calibration_qlike", {}).items()}


def _read_set(folder: Path, key: str) -> risk_walk_forward.RiskSet | None:
    """The cached set `key` (header JSON, numpy arrays, LightGBM model text); None when not cached or
    cached as no set."""
    head = folder / f"{key}.json"
    if not head.is_file():
        return None
    header = json.loads(head.read_text())
    if header.get("no_set"):
        return None
    with np.load(folder / f"{key}.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    texts = {name: (folder / f"{key}.{name}.txt").read_text() for name in header.get("texts", [])}
    return risk_state.from_state(header, arrays, texts)


def _write_set(folder: Path, key: str, rs: risk_walk_forward.RiskSet | None, asof: pd.Timestamp) -> None:
    """Write the set's files, the header last (renamed into place: a reader sees a whole set or none);
    None: a header saying there is no set at `asof`."""
    folder.mkdir(parents=True, exist_ok=True)
    header: dict = {"version": risk_state.STATE_VERSION, "asof": str(asof.date()), "no_set": True}
    texts: dict[str, str] = {}
    if rs is not None:
        header, arrays, texts = risk_state.to_state(rs)
        for name, text in texts.items():
            (folder / f"{key}.{name}.txt").write_text(text)
        with open(folder / f"{key}.npz", "wb") as f:
            np.savez(f, **arrays)
    tmp = folder / f"{key}.json.tmp"
    tmp.write_text(json.dumps(header | {"texts": sorted(texts)}, sort_keys=True))
    tmp.replace(folder / f"{key}.json")


def chosen_volatility(warehouse: Warehouse, horizon: int, first: dt.date, end: dt.date) -> pd.DataFrame:
    """ticker, date, volatility: the chosen risk forecast at `horizon` made at the closes first <= date <
    end, the universe (quant/risk.UNIVERSE) included; empty where none is stored."""
    out = warehouse.query(
        "SELECT ticker, date, volatility FROM risk_forecasts WHERE model = ? AND horizon = ? "
        "AND date >= ? AND date < ? ORDER BY date, ticker",
        [risk.CHOSEN, horizon, first, end],
    )
    out["date"] = pd.to_datetime(out["date"])
    return out


@daily_stage(
    phase=DECISIONS,
    group_name="models",
    kinds={"duckdb", "lightgbm"},
    deps=[prices],
    description="Volatility over each horizon per name and for the equal-weight universe, made at each "
    "close: EWMA (RiskMetrics 0.94), HAR, and two ML families learning EWMA's multiplier by QLIKE (a "
    "log-link GLM and LightGBM), walk-forward with purge and embargo; `chosen` has the lowest mean QLIKE "
    "over the inner windows of its retrain date and every earlier one.",
)
def risk_forecasts(
    context: StageContext, settings: PipelineSettings, warehouse: Warehouse, artifacts: ArtifactStore
) -> dg.MaterializeResult:
    start, end = context.window
    pieces = risk_forecast_pieces(warehouse, settings.config, start, end, artifacts.risk_models_dir)
    rows, dates, selections = 0, 0, []
    # One transaction per calendar year; the next year's forecasts computed while one is written.
    for piece_start, piece_end, table, selection in one_ahead(pieces):
        warehouse.replace_range("risk_forecasts", table, piece_start, piece_end)
        rows, dates = rows + len(table), dates + (table["date"].nunique() if len(table) else 0)
        selections.append(selection)
        del table
    # A set valid across a year's end is listed by both years.
    chosen = [x[x["chosen"].astype(bool)] for x in selections if len(x)]
    chosen = (
        pd.concat(chosen, ignore_index=True).drop_duplicates(["asof", "horizon"])
        if chosen
        else pd.DataFrame(columns=["asof", "horizon", "model"])
    )
    due = _metrics_due(warehouse, start, end)
    metrics = _update_risk_metrics(warehouse, settings.config) if due else None
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "dates": int(dates),
            "retrain_dates": int(chosen["asof"].nunique()) if len(chosen) else 0,
            "chosen": dg.MetadataValue.json(
                chosen.groupby("horizon")["model"].value_counts().unstack(fill_value=0).to_dict("index")
                if len(chosen)
                else {}
            ),
            **({"model_metrics_rows": len(metrics)} if metrics is not None else {}),
        }
    )


# The risk model's out-of-sample skill over every stored forecast is a full-history join (a few seconds at
# 23 years): a day's run refreshes it when it closes a month, ranges of a week or more and a table without
# risk rows always do (the same rule as the return models' model_metrics).
METRICS_REFRESH_MIN_DAYS = 8


def _metrics_due(warehouse: Warehouse, start: dt.date, end: dt.date) -> bool:
    last = end - dt.timedelta(days=1)
    if (end - start).days >= METRICS_REFRESH_MIN_DAYS or (start.year, start.month) != (last.year, last.month):
        return True
    stored = warehouse.query(
        "SELECT count(*) AS n FROM model_metrics WHERE starts_with(model, ?)", [risk_metrics.PREFIX]
    )
    return stored.empty or stored["n"].iat[0] == 0


def paired_with_ewma(
    warehouse: Warehouse, horizon: int, model: str, since: dt.date = PARTITIONS_START
) -> pd.DataFrame:
    """Each name's stored `model` forecast at `horizon` dated on or after `since` beside EWMA's
    forecast of the same row, paired by DuckDB (ticker, date, volatility, ewma; sorted by ticker, date;
    the universe row left out): risk_metrics.paired_skill's input."""
    return warehouse.frame(
        "SELECT a.ticker, a.date, a.volatility, e.volatility AS ewma FROM risk_forecasts a "
        "JOIN risk_forecasts e ON e.ticker = a.ticker AND e.date = a.date AND e.horizon = a.horizon "
        "AND e.model = ? WHERE a.ticker <> ? AND a.horizon = ? AND a.model = ? AND a.date >= ? "
        "ORDER BY a.ticker, a.date",
        [risk.EWMA, risk.UNIVERSE, horizon, model, since],
    )


def _update_risk_metrics(warehouse: Warehouse, cfg: PipelineConfig) -> pd.DataFrame:
    """model_metrics' risk rows (quant/risk_metrics.py) from every stored risk forecast of the names,
    replacing the previous risk rows (the return models' rows are the forecasts stage's). One (horizon,
    model) at a time, beside EWMA's rows: all of them at once were the stage's largest frame (500 names x
    20 years: 50 M rows)."""
    pairs = warehouse.query(
        "SELECT DISTINCT horizon, model FROM risk_forecasts WHERE ticker <> ? ORDER BY horizon, model",
        [risk.UNIVERSE],
    )
    if pairs.empty:
        return pd.DataFrame(columns=risk_metrics.METRIC_COLUMNS)
    close = warehouse.universe_panels(PARTITIONS_START, dt.date.max, cfg)["close"]
    returns = close.pct_change(fill_method=None)
    found, realized = [], {}
    for pair in pairs.itertuples():  # by horizon: one realized panel at a time
        h, model = int(pair.horizon), str(pair.model)
        if h not in realized:
            realized = {h: risk.realized_volatility(returns, h)}
        paired = paired_with_ewma(warehouse, h, model)
        skill = risk_metrics.paired_skill(paired, realized[h], h) if len(paired) else {"risk_rows": 0}
        if skill["risk_rows"]:
            found.append(risk_metrics.metric_row(model, h, skill))
    rows = pd.DataFrame(found, columns=risk_metrics.METRIC_COLUMNS)
    stored = warehouse.query(
        "SELECT DISTINCT model FROM model_metrics WHERE starts_with(model, ?)", [risk_metrics.PREFIX]
    )
    old = list(stored["model"]) if len(stored) else []
    warehouse.replace_where("model_metrics", rows, "model", sorted(set(old) | set(rows["model"])))
    return rows
