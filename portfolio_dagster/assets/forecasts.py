"""forecasts: at the close of each date, the model set valid then predicts each ticker: one row per
enabled family and the ensemble, with conformal 10%/90% intervals; then the out-of-sample skill."""

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.models import (
    ML_OFF_NOTE,
    MODEL_LINEAGE_SECTIONS,
    model_input_columns,
    models,
    predict_registered_set,
)
from portfolio_dagster.assets.regimes import regime_probabilities
from portfolio_dagster.assets.stage import DECISIONS, StageContext, daily_stage
from portfolio_dagster.assets.threads import on_threads, one_ahead
from portfolio_dagster.partitions import trading_days_before, year_pieces
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.models import SEQUENCE_FAMILIES, ArtifactError
from portfolio_dagster.quant.models.skill import SKILL_COLUMNS, pair_skill
from portfolio_dagster.quant.models.training import period_context
from portfolio_dagster.quant.regimes import with_regime_columns
from portfolio_dagster.quant.risk_metrics import PREFIX as RISK_PREFIX
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@daily_stage(
    phase=DECISIONS,
    group_name="models",
    kinds={"duckdb", "pandas"},
    deps=[features, models],
    description="Forecasts of every enabled family and the ensemble per (ticker, date, horizon); then "
    "model_metrics: out-of-sample skill of all forecasts with a realized target (a daily run refreshes "
    "it when it closes a month; longer ranges always do).",
)
def forecasts(
    context: StageContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    if not cfg.models.enabled:
        warehouse.replace_range("forecasts", pd.DataFrame(), start, end)
        return dg.MaterializeResult(metadata={"rows": 0, "note": ML_OFF_NOTE})
    config_hash = cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)
    registry = warehouse.query(
        "SELECT model_id, model_type, horizon, valid_from, model_set_id, artifact, artifact_sha256 "
        "FROM model_registry WHERE selection_hash = ? AND selected ORDER BY horizon, valid_from, model_type",
        [config_hash],
    )
    if not registry.empty:
        registry["valid_from"] = pd.to_datetime(registry["valid_from"])
    # One calendar year at a time, each written in its own transaction: a history load holds one year of
    # features and forecasts, not all of them (500 names x 20 years: 35 M forecast rows).
    rows, families, missing_dates = 0, set(), 0
    regimes = (
        regime_probabilities(warehouse, artifacts, cfg, _context_start(cfg, start), end)
        if "regime_adaptive" in cfg.models.enabled and not registry.empty
        else None
    )
    years = (
        (piece_start, piece_end, *_forecast_range(warehouse, cfg, registry, regimes, piece_start, piece_end))
        for piece_start, piece_end in year_pieces(start, end)
    )
    # Next year's forecasts are computed while this year's are written (they read features only).
    for piece_start, piece_end, table, dates in one_ahead(years):
        warehouse.replace_range("forecasts", table, piece_start, piece_end)
        rows += len(table)
        families |= set(table["model"].unique()) if len(table) else set()
        missing_dates += dates - (table["date"].nunique() if len(table) else 0)
        del table
    skill = (
        _update_skill(warehouse, cfg)
        if _skill_due(warehouse, start, end)
        else warehouse.query("SELECT * FROM model_metrics")
    )
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "models": ", ".join(sorted(families)) if families else "none",
            "dates_without_model": int(missing_dates),
            "oos_skill": dg.MetadataValue.md(_skill_markdown(skill)),
        }
    )


def _context_days(cfg) -> int:
    # Sequence families (TCN, LSTM) read each ticker's trailing rows: load that much context first.
    return max(
        [getattr(cfg.models, f).lookback for f in cfg.models.enabled if f in SEQUENCE_FAMILIES], default=0
    )


def _context_start(cfg, start):
    days = _context_days(cfg)
    return trading_days_before(start, days) if days else start


def _forecast_range(warehouse: Warehouse, cfg, registry, regimes, start, end):
    """(forecast rows of start <= date < end, the number of dates with features there); regimes: the
    regime probabilities by date when regime_adaptive is enabled."""
    context_days = _context_days(cfg)
    first = _context_start(cfg, start)
    feats = warehouse.frame(
        f"SELECT {model_input_columns(cfg.features.selected)} FROM features "
        "WHERE date >= ? AND date < ? ORDER BY date, ticker",
        [first, end],
    )
    out = []
    if not feats.empty and not registry.empty:
        feats["date"] = pd.to_datetime(feats["date"])
        if regimes is not None:
            feats = with_regime_columns(feats, regimes)
        calendar = pd.DatetimeIndex(feats["date"].unique()).sort_values()
        for h, reg in registry.groupby("horizon"):
            sets = reg.drop_duplicates("model_set_id").reset_index(drop=True)
            which = walk_forward.model_for_date(sets["valid_from"], feats["date"])
            in_window = (feats["date"] >= pd.Timestamp(start)).to_numpy()
            for i in sorted(set(which[in_window]) - {-1}):
                # The set's period inside the window: from its first date here to the next set's valid_from.
                first = feats["date"].to_numpy()[(which == i) & in_window].min()
                stop = sets.at[i + 1, "valid_from"] if i + 1 < len(sets) else None
                ctx, keep = period_context(feats, calendar, pd.Timestamp(first), stop, context_days)
                try:
                    out += predict_registered_set(
                        reg[reg["model_set_id"] == sets.at[i, "model_set_id"]], ctx, keep, int(h)
                    )
                except ArtifactError as exc:
                    raise dg.Failure(str(exc)) from None
    dates = feats.loc[feats["date"] >= pd.Timestamp(start), "date"].nunique() if len(feats) else 0
    return (pd.concat(out, ignore_index=True) if out else pd.DataFrame()), dates


# Every forecast's skill since the first model is a full-history join: 5.8 s of a 20 s daily session at
# 23 years of forecasts, growing with history. A day's run refreshes it when it closes a month; ranges
# longer than a week (backfills, history loads) and an empty table always do.
SKILL_REFRESH_MIN_DAYS = 8


def _skill_due(warehouse: Warehouse, start, end) -> bool:
    last = end - pd.Timedelta(days=1)
    if (end - start).days >= SKILL_REFRESH_MIN_DAYS or (start.year, start.month) != (last.year, last.month):
        return True
    stored = warehouse.query(
        "SELECT count(*) AS n FROM model_metrics WHERE NOT starts_with(model, ?)", [RISK_PREFIX]
    )
    return stored.empty or stored["n"].iat[0] == 0


def _update_skill(warehouse: Warehouse, cfg) -> pd.DataFrame:
    """model_metrics from every forecast with a realized target (replaces the table)."""
    actual = (
        "CASE f.horizon "
        + " ".join(f"WHEN {int(h)} THEN t.{target_name(h)}" for h in cfg.targets.horizons)
        + " END"
    )
    # One (model, horizon) at a time: the join of every forecast with its target is the largest frame
    # of a run (35 M rows at 500 names x 20 years) and oos_skill works per pair anyway.
    pairs = warehouse.query("SELECT DISTINCT model, horizon FROM forecasts ORDER BY model, horizon")

    def scored(pair) -> dict | None:
        # The pair's columns only: model and ticker as text per row were most of the read (500 names).
        joined = warehouse.query(
            f"SELECT f.date, f.prediction, f.lower, f.upper, {actual} AS actual "
            "FROM forecasts f JOIN targets t USING (ticker, date) WHERE f.model = ? AND f.horizon = ?",
            [pair.model, int(pair.horizon)],
        )
        return pair_skill(joined, str(pair.model), int(pair.horizon)) if len(joined) else None

    # The pairs on threads: DuckDB's join and numpy's sorts leave Python's lock (500 names: 16 -> 9 s).
    rows = [row for row in on_threads(scored, pairs.itertuples()) if row is not None]
    skill = pd.DataFrame(rows, columns=list(SKILL_COLUMNS)) if rows else pd.DataFrame()
    # The return models' rows only: the risk model's (model 'risk_<name>') are the risk_forecasts stage's.
    stored = warehouse.query("SELECT DISTINCT model FROM model_metrics")
    mine = {m for m in (stored["model"] if len(stored) else []) if not m.startswith(RISK_PREFIX)}
    mine |= set(skill["model"]) if len(skill) else set()
    warehouse.replace_where("model_metrics", skill, "model", sorted(mine))
    return skill


def _skill_markdown(skill: pd.DataFrame) -> str:
    if skill.empty:
        return "no realized targets yet"
    cols = [
        "model",
        "horizon",
        "observations",
        "directional_accuracy",
        "base_rate",
        "ic",
        "rank_ic",
        "interval_coverage",
    ]
    return "Out-of-sample skill (all forecasts with realized targets; coverage nominal 0.80):\n\n" + skill[
        cols
    ].round(4).to_markdown(index=False)
