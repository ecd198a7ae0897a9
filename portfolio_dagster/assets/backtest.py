"""backtest: ml_barbell against 1/N and the index over the same days, net of costs, with the
overfitting-aware statistics, performance by regime and the seed's criteria."""

import base64
import dataclasses
import datetime as dt

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.allocations import allocations, market_inputs
from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.regimes import regimes
from portfolio_dagster.assets.risk_forecasts import chosen_volatility, paired_with_ewma
from portfolio_dagster.assets.signals import ml_forecasts
from portfolio_dagster.assets.stage import EVALUATION, phase_tags
from portfolio_dagster.assets.targets import targets
from portfolio_dagster.partitions import WAREHOUSE_POOL, trading_days_before
from portfolio_dagster.quant import metrics
from portfolio_dagster.quant.allocation import allocate
from portfolio_dagster.quant.allocation_reasons import daily_controls
from portfolio_dagster.quant.cash import with_uninvested_cash
from portfolio_dagster.quant.costs import IMPACT_WINDOW_DAYS, CostModel, impact_inputs
from portfolio_dagster.quant.evaluation import SKILL_COLUMNS, EvaluationInputs, evaluate
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.report import equity_png, markdown_table, summary_table
from portfolio_dagster.quant.risk import CHOSEN, realized_volatility
from portfolio_dagster.quant.risk_metrics import paired_skill, summary_metrics
from portfolio_dagster.quant.signals import ML, RULE_BASED, build_signals
from portfolio_dagster.quant.significance import rank_ic_stats
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.operations_state import EMERGENCY, active_periods
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

EQUITY_PNG = "equity.png"


@dg.asset(
    tags=phase_tags(EVALUATION),
    pool=WAREHOUSE_POOL,
    group_name="evaluation",
    kinds={"duckdb", "pandas"},
    deps=[allocations, forecasts, targets, regimes],
)
def backtest(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    cfg = settings.config
    b = cfg.backtest
    inputs = evaluation_inputs(warehouse, cfg)
    result = evaluate(inputs)
    risk_rows = _risk_summary(warehouse, cfg, inputs)
    summary = pd.concat([result.summary, risk_rows], ignore_index=True) if len(risk_rows) else result.summary
    result = dataclasses.replace(result, summary=summary)
    warehouse.replace_where("backtest_daily", result.daily)
    warehouse.replace_where("backtest_summary", result.summary)
    warehouse.replace_where("backtest_rolling", result.rolling.assign(window_days=b.rolling_window_days))
    warehouse.replace_where("backtest_regimes", result.regimes)
    warehouse.replace_where("backtest_criteria", result.criteria)
    warehouse.replace_where("backtest_variants", result.variants)

    png = equity_png(result.daily)
    png_path = artifacts.reports_dir / EQUITY_PNG
    png_path.write_bytes(png)
    crit = result.criteria.assign(
        passed=result.criteria["passed"].map({True: "PASS", False: "FAIL"}).fillna("not measured")
    )[["criterion", "target", "measured", "passed"]]
    return dg.MaterializeResult(
        metadata={
            "days": int(len(result.runs["ml_barbell"].daily)),
            "summary": dg.MetadataValue.md(markdown_table(summary_table(result.summary).reset_index())),
            "criteria": dg.MetadataValue.md(markdown_table(crit)),
            "equity_curve": dg.MetadataValue.md(_png_markdown(png)),
            "equity_png": dg.MetadataValue.path(str(png_path)),
            "impact": inputs.impact_note,
        }
    )


def evaluation_inputs(
    warehouse: Warehouse, cfg, end: dt.date | None = None, full: bool = True
) -> EvaluationInputs:
    """The backtest's inputs from the warehouse: allocations from backtest.start (before `end` when
    given), prices with the impact window before them; with `full`, regimes, skill and trial counts."""
    b = cfg.backtest
    before = end or dt.date.max
    alloc = warehouse.query(
        "SELECT date, ticker, weight, reasons FROM allocations WHERE date >= ? AND date < ? ORDER BY date",
        [b.start, before],
    )
    if alloc.empty:
        raise dg.Failure("no allocations on or after backtest.start: materialize allocations first")
    alloc["date"] = pd.to_datetime(alloc["date"])
    first = alloc["date"].min().date()
    # Impact needs a trailing window of volatility and volume before the first trade.
    px = warehouse.query(
        "SELECT ticker, date, open, close, volume FROM prices WHERE date >= ? AND date < ? ORDER BY date",
        [trading_days_before(first, IMPACT_WINDOW_DAYS + 1), before],
    )
    px["date"] = pd.to_datetime(px["date"])
    close, volume = wide(px, "close"), wide(px, "volume")
    if cfg.strategy.uninvested_cash:
        close = with_uninvested_cash(close, cfg.strategy.safe_assets[0])
    if cfg.data.benchmark not in close.columns:
        raise dg.Failure(
            f"the benchmark {cfg.data.benchmark!r} has no prices: the backtest compares against it"
        )
    impact = impact_inputs(close, volume, IMPACT_WINDOW_DAYS, b.fallback_adv_usd)
    impact_note = (
        "impact from trailing 21-day volatility and dollar volume"
        if impact is not None and b.fallback_adv_usd is None
        else f"impact with an ASSUMED ADV of ${b.fallback_adv_usd:,.0f} where volume is missing"
        if impact is not None
        else "not estimable: the prices have no volume (close-only), so impact is charged as 0"
    )
    reg, skill, tried = (
        pd.DataFrame(columns=["date", "state"]),
        pd.DataFrame(columns=list(SKILL_COLUMNS)),
        b.configurations_tried,
    )
    rule, ablation = None, {}
    if full:
        reg = warehouse.query(
            "SELECT date, state, probabilities FROM regimes WHERE date >= ? ORDER BY date", [first]
        )
        reg = reg if len(reg) else pd.DataFrame(columns=["date", "state"])
        hashes = warehouse.query("SELECT count(DISTINCT config_hash) AS n FROM model_registry")
        tried = max(b.configurations_tried, int(hashes["n"].iat[0]) if len(hashes) else 0)
        skill = _skill(warehouse, cfg)
        # The ablation: ml_barbell (the skill-scaled alpha on top of the rule AND the ML risk forecast),
        # rule_barbell (ML off), and each ML part alone on top of the rule: ml_risk_barbell (the rule's
        # expected returns, the chosen risk forecast in the volatility target, the composition and the
        # Kelly diagonal) and ml_alpha_barbell (the rule plus score x calibration IC x volatility, trailing
        # risk). The product (strategy.mode) is the stored one; the others are computed here.
        last = alloc["date"].max().date() + dt.timedelta(days=1)
        volatility = chosen_volatility(warehouse, cfg.strategy.signal_horizon, first, last)
        if cfg.strategy.mode == RULE_BASED:
            alloc, rule = ml_barbell_allocations(warehouse, cfg, first, last, volatility), alloc
        else:
            rule = barbell_allocations(warehouse, cfg, first, last, RULE_BASED)
        ablation = {
            "ml_risk_barbell": barbell_allocations(
                warehouse, cfg, first, last, RULE_BASED, volatility=volatility
            ),
            "ml_alpha_barbell": barbell_allocations(warehouse, cfg, first, last, ML, skill_alpha=True),
        }
    return EvaluationInputs(
        allocations=alloc,
        close=close.loc[pd.Timestamp(first) :],
        impact=impact,
        regimes=reg,
        skill=skill,
        benchmark=cfg.data.benchmark,
        safe_assets=cfg.strategy.safe_assets,
        rebalance=b.rebalance,
        configurations_tried=tried,
        costs=CostModel(b.cost_bps, b.half_spread_bps, b.impact_coefficient, b.aum_usd),
        rolling_window=b.rolling_window_days,
        impact_note=impact_note,
        open=wide(px, "open"),
        controls=daily_controls(alloc, cfg.strategy.safe_assets[0]),
        max_position=cfg.strategy.max_position,
        cap_tolerance=b.cap_tolerance,
        rule_allocations=rule,
        product="rule_barbell" if cfg.strategy.mode == RULE_BASED else "ml_barbell",
        ablation_allocations=ablation,
    )


def ml_barbell_allocations(
    warehouse: Warehouse, cfg, first: dt.date, end: dt.date, volatility: pd.DataFrame
) -> pd.DataFrame:
    """ml_barbell: the barbell in ML mode, as the signals and allocations assets decide it when
    strategy.mode is ml (the skill-scaled alpha on top of the rule and the chosen risk forecast)."""
    return barbell_allocations(warehouse, cfg, first, end, ML, volatility=volatility, skill_alpha=True)


def barbell_allocations(
    warehouse: Warehouse,
    cfg,
    first: dt.date,
    end: dt.date,
    mode: str,
    *,
    volatility: pd.DataFrame | None = None,
    skill_alpha: bool = False,
) -> pd.DataFrame:
    """The barbell, controls and dates of the product with the signals of `mode` (ml: the ensemble
    forecasts, rule-based momentum where none; rule_based: momentum only). volatility (the chosen risk
    forecast): the Kelly diagonal, the volatility target and the composition's volatilities (ML risk);
    skill_alpha: the rule plus the skill-scaled ML alpha. The operations emergency state comes from the
    ML's decayed skill, so only the ML barbells obey it; the config's stop binds both."""
    s = cfg.strategy
    # Signals from `first` on, as the signals asset has them (its history starts at backtest.start), so the
    # product's own source recomputed here equals its stored allocations.
    forecasts = ml_forecasts(warehouse, s.signal_horizon, first, end) if mode == ML else pd.DataFrame()
    market = market_inputs(
        warehouse, cfg, end, pd.DataFrame(), active_periods(warehouse, EMERGENCY) if mode == ML else ()
    )
    close = market.close
    dates = close.index[close.index >= pd.Timestamp(first)]
    signals = build_signals(
        forecasts,
        close,
        dates,
        mode=mode,
        horizon=s.signal_horizon,
        kelly_fraction=s.kelly_fraction,
        covariance_days=s.covariance_days,
        volatility=volatility,
        skill_alpha=skill_alpha,
    )
    table = allocate(dates, dataclasses.replace(market, signals=signals, risk=volatility), s)
    table["date"] = pd.to_datetime(table["date"])
    return table


def _risk_summary(warehouse: Warehouse, cfg, inputs: EvaluationInputs) -> pd.DataFrame:
    """ml_barbell's risk-model rows of backtest_summary (risk_qlike_{h}d, risk_qlike_ewma_{h}d,
    risk_dm_pvalue_{h}d) over the backtest's days: the chosen risk forecast of each name against
    EWMA's, paired in DuckDB one horizon at a time (500 names x 20 years: 5 M rows each); none when no
    risk forecast is stored."""
    first = inputs.close.index.min().date()
    returns = warehouse.universe_panels(trading_days_before(first, 1), dt.date.max, cfg)["close"]
    returns = returns.pct_change(fill_method=None)

    def horizon_metrics(h: int) -> tuple[int, dict]:
        paired = paired_with_ewma(warehouse, h, CHOSEN, first)
        return len(paired), summary_metrics(h, paired_skill(paired, realized_volatility(returns, h), h))

    # One horizon after another: the threads shared `returns`, and pandas' lazily built index state is
    # not thread-safe (a full test run once failed "Reindexing only valid with uniquely valued Index").
    scored = [horizon_metrics(h) for h in cfg.targets.horizons]
    found = {k: v for _, metrics_h in scored for k, v in metrics_h.items()}
    rows = [("ml_barbell", k, v) for k, v in found.items()] if any(n for n, _ in scored) else []
    return pd.DataFrame(rows, columns=["strategy", "metric", "value"])


def _png_markdown(png: bytes) -> str:
    return "![equity](data:image/png;base64," + base64.b64encode(png).decode() + ")"


def _skill(warehouse: Warehouse, cfg) -> pd.DataFrame:
    """Out-of-sample skill of the ensemble per horizon, next to the base rate, with the mean per-date rank
    IC and its Newey-West t, from the warehouse."""

    def horizon_skill(h: int) -> dict:
        joined = warehouse.query(
            f"SELECT f.date, f.ticker, f.prediction, t.{target_name(h)} AS realized FROM forecasts f "
            "JOIN targets t USING (ticker, date) WHERE f.model = 'ensemble' AND f.horizon = ? AND f.date "
            ">= ?",
            [h, cfg.backtest.start],
        )
        if joined.empty:
            joined = pd.DataFrame({"date": [], "ticker": [], "prediction": [], "realized": []})
        joined = joined.dropna()
        ranks = rank_ic_stats(joined, h, actual="realized")
        return {
            "horizon": h,
            **metrics.forecast_skill(joined[["date", "prediction", "realized"]]),
            "rank_ic": ranks["rank_ic"],
            "ic_tstat": ranks["ic_tstat"],
        }

    rows = [horizon_skill(h) for h in cfg.targets.horizons]
    return pd.DataFrame(rows, columns=list(SKILL_COLUMNS))
