"""The one registry of stages, in pipeline order; everything else is derived from it and the stages'
phase tags (assets/stage.py): `pmx run`'s plan, the jobs, the daily selection, the history twins."""

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.backtest import backtest
from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.models import models
from portfolio_dagster.assets.paper import paper_ledger
from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS
from portfolio_dagster.assets.regimes import regimes
from portfolio_dagster.assets.report import report
from portfolio_dagster.assets.risk_forecasts import risk_forecasts
from portfolio_dagster.assets.signals import signals
from portfolio_dagster.assets.stage import DECISIONS, RUN_PHASES, phase_of, twin_of
from portfolio_dagster.assets.targets import targets

SOURCES = tuple(RAW_PRICE_ASSETS.values())
PIPELINE = (
    prices,
    features,
    targets,
    models,
    forecasts,
    regimes,
    risk_forecasts,
    signals,
    allocations,
    backtest,
    report,
)
# The paper ledger is operated session by session (the daily schedule, `pmx replay`), not by `pmx run`.
OPERATIONS = (paper_ledger,)
ALL_ASSETS = (*SOURCES, *PIPELINE, *OPERATIONS)
# Each daily stage's yearly twin (assets/history.py), by the daily asset's key.
HISTORY_OF = {a.key: twin_of(a).key for a in ALL_ASSETS if twin_of(a) is not None}
HISTORY_ASSETS = tuple(twin_of(a) for a in ALL_ASSETS if twin_of(a) is not None)
# The stages that decide (forecast, regime, signal, weights): their history starts at backtest.start.
DECISION_STAGES = tuple(a.key.to_user_string() for a in PIPELINE if phase_of(a) == DECISIONS)
# `pmx run` runs every source and pipeline stage: each must be in one of its phases.
_UNRUN = [a.key.to_user_string() for a in (*SOURCES, *PIPELINE) if phase_of(a) not in RUN_PHASES]
if _UNRUN:
    raise RuntimeError(f"stages without a `pmx run` phase: {', '.join(_UNRUN)}")
