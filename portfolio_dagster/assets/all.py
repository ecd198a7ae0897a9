"""Every asset, in pipeline order (the CLI materializes them in this order)."""

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
from portfolio_dagster.assets.signals import signals
from portfolio_dagster.assets.targets import targets

PIPELINE = (prices, features, targets, models, forecasts, regimes, signals, allocations, backtest, report)
# The paper ledger is operated session by session (the daily schedule, `pmx replay`), not by `pmx run`.
OPERATIONS = (paper_ledger,)
ALL_ASSETS = (*RAW_PRICE_ASSETS.values(), *PIPELINE, *OPERATIONS)
