"""The seed plan's success criteria, measured: criterion, target, measured value, pass/fail.

A criterion that cannot be measured (no forecasts, no volume for impact) gets passed = None and a
reason; it is never reported as a pass.

Definitions (the seed states them loosely; these are the measurable readings):
- directional accuracy > 55% across horizons: the WORST horizon's out-of-sample accuracy (all must pass);
  the base rate ("always up") is shown beside it.
- Sharpe > 1.2: the product's annualized Sharpe, net of costs (the product: the barbell of
  strategy.mode; every criterion but directional accuracy, the ML forecasts' skill, is the product's).
- max drawdown < 15% in stress periods: the worst drawdown inside the STRESS_PERIODS below (equity
  restarted at each period's start), among those the backtest covers.
- hit rate > 52%: share of days with a positive net return.
- capacity > $10M: capacity_usd, the AUM at which impact halves the Sharpe.
- < 5% performance variance across regimes: the standard deviation, across regime states, of the
  annualized mean return earned in each state (in return units: 0.05 = 5 percentage points).
"""

from __future__ import annotations

import math

import pandas as pd

# Peak-to-trough windows of the S&P 500 (closing levels), the market's stress periods.
STRESS_PERIODS = (
    ("dot-com bust", "2000-03-24", "2002-10-09"),
    ("global financial crisis", "2007-10-09", "2009-03-09"),
    ("euro crisis / US downgrade", "2011-04-29", "2011-10-03"),
    ("covid crash", "2020-02-19", "2020-03-23"),
    ("2022 bear market", "2022-01-03", "2022-10-12"),
)
CRITERIA_COLUMNS = ["criterion", "target", "measured", "passed", "detail"]


def _row(criterion: str, target: str, measured: float, passed: bool | None, detail: str) -> dict:
    measured = float(measured) if measured is not None else float("nan")
    if not math.isfinite(measured):
        passed = None
    return {
        "criterion": criterion,
        "target": target,
        "measured": measured,
        "passed": passed,
        "detail": detail,
    }


def criteria_table(
    strategy_metrics: dict[str, float],
    skill: pd.DataFrame,
    stress: pd.DataFrame,
    regimes: pd.DataFrame,
    impact_note: str,
) -> pd.DataFrame:
    """strategy_metrics: the product's summary metrics; skill: horizon, directional_accuracy, base_rate;
    stress: window_drawdowns() output; regimes: by_regime() output."""
    rows = []
    if len(skill) and skill["directional_accuracy"].notna().any():
        worst = skill.loc[skill["directional_accuracy"].idxmin()]
        detail = "; ".join(
            f"{int(r.horizon)}d {r.directional_accuracy:.1%} (base rate {r.base_rate:.1%})"
            for r in skill.itertuples()
        )
        rows.append(
            _row(
                "directional accuracy across horizons",
                "> 55% at every horizon",
                worst["directional_accuracy"],
                bool(skill["directional_accuracy"].min() > 0.55),
                f"worst {int(worst['horizon'])}d; {detail}",
            )
        )
    else:
        rows.append(
            _row(
                "directional accuracy across horizons",
                "> 55% at every horizon",
                float("nan"),
                None,
                "no evaluable forecasts",
            )
        )
    sr = strategy_metrics.get("sharpe", float("nan"))
    rows.append(_row("Sharpe ratio", "> 1.2", sr, sr > 1.2, "annualized, daily net returns, risk-free 0"))
    if len(stress):
        worst = stress.loc[stress["max_drawdown"].idxmin()]
        rows.append(
            _row(
                "max drawdown in stress periods",
                "> -15%",
                worst["max_drawdown"],
                bool(worst["max_drawdown"] > -0.15),
                f"worst in {worst['period']}; "
                + "; ".join(f"{r.period} {r.max_drawdown:.1%}" for r in stress.itertuples()),
            )
        )
    else:
        rows.append(
            _row(
                "max drawdown in stress periods",
                "> -15%",
                float("nan"),
                None,
                "the backtest covers no stress period",
            )
        )
    hr = strategy_metrics.get("hit_rate", float("nan"))
    rows.append(_row("hit rate", "> 52%", hr, hr > 0.52, "share of days with a positive net return"))
    cap = strategy_metrics.get("capacity_usd", float("nan"))
    rows.append(_row("capacity", "> $10M", cap, cap > 1e7, impact_note))
    if len(regimes) >= 2:
        spread = float(regimes["annual_return"].std(ddof=1))
        rows.append(
            _row(
                "performance variance across regimes",
                "< 5% (std of annual return by regime)",
                spread,
                spread < 0.05,
                "; ".join(
                    f"{r.state} {r.annual_return:.1%}/yr over {r.days} days" for r in regimes.itertuples()
                ),
            )
        )
    else:
        rows.append(
            _row(
                "performance variance across regimes",
                "< 5% (std of annual return by regime)",
                float("nan"),
                None,
                "fewer than two regime states observed",
            )
        )
    return pd.DataFrame(rows, columns=CRITERIA_COLUMNS)
