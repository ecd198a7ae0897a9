"""The whole evaluation of one allocation history: the product, its ablations (the same barbell with ML
off; the same decisions one session later), 1/N and the index over the same days, their metrics, what the
ML adds (Sharpe difference vs the rule with a Ledoit-Wolf p-value; rank IC with a Newey-West t), rolling
metrics, performance by regime, the tried variants (PBO, deflated Sharpe) and the seed's criteria.
Frames in, frames out; the backtest asset does the I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from portfolio_dagster.quant import backtest as bt
from portfolio_dagster.quant import criteria, metrics, overfitting, variants
from portfolio_dagster.quant.allocation_reasons import daily_controls
from portfolio_dagster.quant.costs import CostModel, ImpactInputs
from portfolio_dagster.quant.significance import sharpe_difference_test
from portfolio_dagster.quant.trading import TradingRule

# backtest_summary metric: 1 for the product (the barbell of strategy.mode), 0 for the other strategies.
PRODUCT_METRIC = "is_product"
STRATEGIES = (
    "ml_barbell",
    "rule_barbell",
    "ml_risk_barbell",
    "ml_alpha_barbell",
    "ml_barbell_lag1",
    "equal_weight",
    "benchmark",
)
# The two halves of the backtest's days: strategy.mode is chosen on the inner (first) half only; the outer
# (second) half is what that choice is then judged on. backtest_summary: <metric>_inner_half / _outer_half.
HALVES = ("inner_half", "outer_half")
# The barbells tested against rule_barbell (sharpe_diff_vs_rule, sharpe_diff_pvalue; also per half).
ML_BARBELLS = ("ml_barbell", "ml_risk_barbell", "ml_alpha_barbell", "ml_barbell_lag1")
SKILL_COLUMNS = ("horizon", "directional_accuracy", "base_rate", "ic", "n", "rank_ic", "ic_tstat")
NO_COSTS = CostModel(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class EvaluationInputs:
    """Everything the backtest evaluation reads: allocations, closes, impact inputs, regimes, skill, costs."""

    allocations: pd.DataFrame  # date, ticker, weight (decided at the close of date)
    close: pd.DataFrame  # date x ticker closes from the first decision date
    impact: ImpactInputs | None  # None: impact not estimable (no volume)
    regimes: pd.DataFrame  # date, state
    skill: pd.DataFrame  # SKILL_COLUMNS (rank_ic, ic_tstat optional)
    benchmark: str
    safe_assets: tuple[str, ...]
    rebalance: str
    costs: CostModel
    configurations_tried: int
    rolling_window: int = metrics.ROLLING_WINDOW_DAYS
    impact_note: str = ""
    open: pd.DataFrame | None = None  # date x ticker opens (fills at the open where present)
    controls: pd.Series | None = None  # per decision date: the daily controls in force (a change trades)
    max_position: float | None = None  # drift cap of the risky holdings (the trading rule's cap trades)
    cap_tolerance: float = 0.0
    rule_allocations: pd.DataFrame | None = (
        None  # the same barbell with ML off (date, ticker, weight, reasons)
    )
    product: str = "ml_barbell"  # the strategy the platform trades (the barbell of strategy.mode)
    # More barbells that isolate one ML part (ml_risk_barbell, ml_alpha_barbell): name -> allocations,
    # simulated like rule_barbell and tested against it.
    ablation_allocations: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """The evaluation's tables (daily, summary, rolling, regimes, variants, criteria) and each
    strategy's run."""

    runs: dict[str, bt.BacktestResult]
    daily: pd.DataFrame
    summary: pd.DataFrame
    rolling: pd.DataFrame
    regimes: pd.DataFrame
    variants: pd.DataFrame
    criteria: pd.DataFrame


def product_rule(inp: EvaluationInputs) -> TradingRule:
    """The trading rule of the product's backtest: fractional shares, the drift cap on risky names."""
    return TradingRule(
        inp.costs, fractional=True, max_position=inp.max_position, cap_tolerance=inp.cap_tolerance
    )


@dataclass(frozen=True)
class _Days:
    """What every strategy shares: the decision dates, the prices over the same days, the universe."""

    decisions: pd.DatetimeIndex
    close: pd.DataFrame
    universe: list[str]
    targets: pd.DataFrame
    schedule: pd.DatetimeIndex


def _days(inp: EvaluationInputs) -> _Days:
    if inp.benchmark not in inp.close.columns:
        raise ValueError(
            f"the benchmark {inp.benchmark!r} has no prices over the backtest: cannot compare to it"
        )
    alloc = inp.allocations
    decisions = pd.DatetimeIndex(alloc["date"].unique()).sort_values()
    after_last = inp.close.index[inp.close.index > decisions.max()]
    # Same days for every strategy: from the first decision to the day after the last one.
    close = inp.close.loc[: after_last.min() if len(after_last) else decisions.max()]
    universe = [t for t in inp.close.columns if t != inp.benchmark and t not in inp.safe_assets]
    targets = alloc.pivot(index="date", columns="ticker", values="weight").fillna(0.0)
    targets.columns.name = None
    return _Days(decisions, close, universe, targets, bt.rebalance_dates(decisions, inp.rebalance))


def product_run(inp: EvaluationInputs, days: _Days | None = None) -> bt.BacktestResult:
    """ml_barbell exactly as `evaluate` runs it (also the paper ledger's shadow)."""
    d = days or _days(inp)
    return bt.simulate(
        d.targets,
        d.close,
        d.schedule,
        product_rule(inp),
        inp.impact,
        open_=inp.open,
        controls=inp.controls,
        capped=d.universe,
    )


def evaluate(inp: EvaluationInputs) -> Evaluation:
    """Backtest the product, its ablations, 1/N and the index over the same days, net of costs, with the
    overfitting-aware statistics, performance by regime and the seed's criteria."""
    d = _days(inp)
    decisions, close, universe, targets, schedule = d.decisions, d.close, d.universe, d.targets, d.schedule
    product = product_rule(inp)
    runs = {
        "ml_barbell": product_run(inp, d),
        **_ablations(inp, d),
        "equal_weight": bt.simulate(
            bt.equal_weight_targets(inp.close[universe], decisions),
            close,
            schedule,
            TradingRule(inp.costs),
            inp.impact,
            open_=inp.open,
        ),
        "benchmark": bt.simulate(
            bt.buy_and_hold_targets(inp.benchmark, decisions),
            close,
            decisions[:1],
            TradingRule(NO_COSTS),
            capital_usd=inp.costs.aum_usd,
            open_=inp.open,
        ),
    }
    tried = _variants(targets, close, decisions, inp, product, universe)
    # Variants that trade identically (e.g. top-5 when no day holds more than 5 names) are one trial.
    distinct = tried.drop(columns=["date"]).T.drop_duplicates().T
    variant_sharpes = distinct.apply(lambda c: metrics.sharpe(c.to_numpy()) / np.sqrt(metrics.TRADING_DAYS))
    pbo = overfitting.pbo_cscv(distinct.to_numpy())
    trials = inp.configurations_tried * distinct.shape[1]
    bench = runs["benchmark"].daily.set_index("date")["net_return"]
    state = _state_before(inp.regimes, close.index)
    product_name = inp.product if inp.product in runs else "ml_barbell"

    summary, rolling, by_regime = [], [], []
    for name, run in runs.items():
        d = run.daily
        net = d.set_index("date")["net_return"]
        m = metrics.performance(net.to_numpy(), d["turnover"].to_numpy(), bench.reindex(net.index).to_numpy())
        m["total_return"] = float(d["equity"].iat[-1] - 1.0)
        m["days"] = float(len(d))
        m["probabilistic_sharpe"] = overfitting.probabilistic_sharpe(net.to_numpy())
        ml = name == "ml_barbell"  # the ML's own statistics (skill, trials, the test vs the rule)
        m["deflated_sharpe"] = overfitting.deflated_sharpe(
            net.to_numpy(), trials if ml else 1, float(variant_sharpes.std(ddof=1)) if ml else None
        )
        m["capacity_usd"] = bt.capacity_usd(run) if name != "benchmark" else float("nan")
        m["impact_estimable"] = float(run.impact_estimable)
        m["cost_drag"] = float(d["cost"].sum() / (len(d) / metrics.TRADING_DAYS))
        stress = metrics.window_drawdowns(net, criteria.STRESS_PERIODS)
        m["stress_max_drawdown"] = float(stress["max_drawdown"].min()) if len(stress) else float("nan")
        m[PRODUCT_METRIC] = float(name == product_name)
        if ml:
            m |= {
                "trials": float(trials),
                "configurations_tried": float(inp.configurations_tried),
                "variants_tried": float(distinct.shape[1]),
                "pbo": pbo["pbo"],
                "pbo_logit_median": pbo["logit_median"],
            }
            for row in inp.skill.itertuples():
                m |= {
                    f"directional_accuracy_{row.horizon}d": row.directional_accuracy,
                    f"base_rate_{row.horizon}d": row.base_rate,
                    f"ic_{row.horizon}d": row.ic,
                    f"rank_ic_{row.horizon}d": getattr(row, "rank_ic", float("nan")),
                    f"ic_tstat_{row.horizon}d": getattr(row, "ic_tstat", float("nan")),
                }
        rule_net = runs["rule_barbell"].daily["net_return"].to_numpy() if "rule_barbell" in runs else None
        m |= by_half(net.to_numpy(), rule_net if name in ML_BARBELLS else None)
        if name in ML_BARBELLS and rule_net is not None:
            m |= ml_vs_rule(net.to_numpy(), rule_net)
        summary += [(name, k, float(v)) for k, v in m.items()]
        rolling.append(
            metrics.rolling(net, inp.rolling_window).reset_index(names="date").assign(strategy=name)
        )
        regime_rows = metrics.by_regime(net, state.reindex(net.index)).assign(strategy=name)
        by_regime.append(regime_rows)
        if name == product_name:  # the seed's criteria judge what the platform trades
            crit = criteria.criteria_table(m, inp.skill, stress, regime_rows, inp.impact_note)

    daily = pd.concat([r.daily.assign(strategy=s) for s, r in runs.items()], ignore_index=True)
    summary_frame = pd.DataFrame(summary, columns=["strategy", "metric", "value"])
    summary_frame["value"] = summary_frame["value"].replace([np.inf, -np.inf], np.nan)
    variant_table = pd.DataFrame(
        [
            {
                "variant": v.name,
                "top_k": v.top_k or 0,
                "weighting": v.weighting,
                "rebalance": v.rebalance,
                **{
                    k: metrics.performance(tried[v.name].to_numpy(), np.zeros(1), None)[k]
                    for k in ("annual_return", "sharpe", "max_drawdown")
                },
            }
            for v in variants.grid()
        ]
    )
    return Evaluation(
        runs=runs,
        daily=daily,
        summary=summary_frame,
        rolling=pd.concat(rolling, ignore_index=True),
        regimes=pd.concat(by_regime, ignore_index=True),
        variants=variant_table,
        criteria=crit,
    )


def ml_vs_rule(ml: np.ndarray, rule: np.ndarray) -> dict[str, float]:
    """What the ML adds over the same strategy with ML off, on the same days: the difference of the
    reported (annualized) Sharpe ratios and the two-sided p-value of Ledoit & Wolf (2008), HAC."""
    diff = metrics.sharpe(ml) - metrics.sharpe(rule)
    try:
        pvalue = sharpe_difference_test(ml, rule, "hac").pvalue
    except ValueError:  # a constant series: the Sharpe ratio is undefined
        pvalue = float("nan")
    return {"sharpe_diff_vs_rule": float(diff), "sharpe_diff_pvalue": float(pvalue)}


def by_half(net: np.ndarray, rule: np.ndarray | None = None) -> dict[str, float]:
    """Sharpe and max drawdown on each half of the days (HALVES: the first half's days are the inner one,
    where strategy.mode is chosen), and with `rule` (the same days' rule_barbell returns) the Sharpe
    difference against it and its Ledoit-Wolf p-value per half."""
    cut = len(net) // 2
    out = {}
    for half, part in zip(HALVES, (slice(0, cut), slice(cut, len(net))), strict=True):
        x = np.asarray(net[part], dtype=float)
        out[f"sharpe_{half}"] = float(metrics.sharpe(x)) if len(x) > 2 else float("nan")
        out[f"max_drawdown_{half}"] = float(metrics.max_drawdown(x)) if len(x) > 2 else float("nan")
        if rule is not None and len(x) > 2:
            test = ml_vs_rule(x, np.asarray(rule[part], dtype=float))
            out |= {f"{k}_{half}": v for k, v in test.items()}
    return out


def _ablations(inp: EvaluationInputs, d: _Days) -> dict[str, bt.BacktestResult]:
    """rule_barbell (ML off, same controls, costs and trading rule) and ml_barbell_lag1 (the product's
    decisions executed one session later), over the same days as the product."""
    rule = product_rule(inp)
    out = {}
    barbells = {"rule_barbell": inp.rule_allocations, **inp.ablation_allocations}
    for name, allocations in barbells.items():
        if allocations is None or not len(allocations):
            continue
        ra = allocations.assign(date=pd.to_datetime(allocations["date"]))
        targets = ra.pivot(index="date", columns="ticker", values="weight").fillna(0.0)
        targets.columns.name = None
        controls = daily_controls(ra, inp.safe_assets[0]) if "reasons" in ra else None
        out[name] = bt.simulate(
            targets,
            d.close,
            bt.rebalance_dates(targets.index, inp.rebalance),
            rule,
            inp.impact,
            open_=inp.open,
            controls=controls,
            capped=d.universe,
        )
    sessions = d.close.index
    later = pd.DatetimeIndex(
        sessions[np.minimum(sessions.searchsorted(d.targets.index) + 1, len(sessions) - 1)]
    )
    keep = later > d.targets.index
    lagged = d.targets[keep].set_index(later[keep])
    # Hold cash on the first day so every strategy covers the same days.
    lagged = pd.concat([pd.DataFrame(0.0, index=d.targets.index[:1], columns=lagged.columns), lagged])
    lag_controls = None
    if inp.controls is not None:
        shifted = inp.controls.reindex(d.targets.index).fillna("")[keep]
        lag_controls = pd.concat([pd.Series([""], index=d.targets.index[:1]), shifted.set_axis(later[keep])])
    lag_schedule = pd.DatetimeIndex(
        sessions[np.minimum(sessions.searchsorted(d.schedule) + 1, len(sessions) - 1)]
    )
    out["ml_barbell_lag1"] = bt.simulate(
        lagged,
        d.close,
        lag_schedule,
        rule,
        inp.impact,
        open_=inp.open,
        controls=lag_controls,
        capped=d.universe,
    )
    return out


def _variants(
    targets: pd.DataFrame,
    close: pd.DataFrame,
    decisions: pd.DatetimeIndex,
    inp: EvaluationInputs,
    rule: TradingRule,
    universe: list[str],
) -> pd.DataFrame:
    """Daily net returns of every variant over the same days: date + one column per variant."""
    columns = {}
    for v in variants.grid():
        shaped = variants.reshape(targets, list(inp.safe_assets), v)
        run = bt.simulate(
            shaped,
            close,
            bt.rebalance_dates(decisions, v.rebalance),
            rule,
            inp.impact,
            open_=inp.open,
            controls=inp.controls,
            capped=universe,
        )
        columns.setdefault("date", run.daily["date"].to_numpy())
        columns[v.name] = run.daily["net_return"].to_numpy()
    return pd.DataFrame(columns)


def _state_before(regimes: pd.DataFrame, calendar: pd.DatetimeIndex) -> pd.Series:
    """For each day of `calendar`, the regime state known at the previous close (when the day's
    position was decided)."""
    if regimes.empty:
        return pd.Series(index=calendar, dtype=object)
    known = regimes.assign(date=pd.to_datetime(regimes["date"])).set_index("date")["state"]
    return known.reindex(calendar).shift(1)
