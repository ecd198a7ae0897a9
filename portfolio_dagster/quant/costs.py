"""Transaction costs on a rebalance: commission + half-spread (linear) + square-root market impact.

For a trade of |dw_i| (fraction of the book) in asset i at a close, as a fraction of the book:

    linear_i = |dw_i| * (commission_bps + half_spread_bps) / 1e4
    impact_i = Y * sigma_i * sqrt(|dw_i| * AUM / ADV_i) * |dw_i|        (square-root law)

sigma_i is the asset's daily return volatility and ADV_i its average daily dollar volume, both
over a trailing window ending at the trade's close (point in time). Impact scales with sqrt(AUM):
the backtester keeps the per-sqrt(AUM) coefficient so capacity can be solved for without rerunning.

Where volume is missing (the bundled sample is close-only) impact is NOT ESTIMABLE: it is charged
as zero, the run is flagged `impact_estimable = False` and capacity is reported as NaN, unless the
config names `fallback_adv_usd` (an explicit, labelled assumption of every asset's ADV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

IMPACT_WINDOW_DAYS = 21


@dataclass(frozen=True)
class CostModel:
    """Trading costs: commission and half-spread in bps of traded value, square-root impact at
    `aum_usd`."""

    commission_bps: float = 10.0
    half_spread_bps: float = 0.0
    impact_coefficient: float = 1.0  # Y of the square-root law (empirically ~0.5-1)
    aum_usd: float = 10_000_000.0  # book size the reported net returns assume (held constant)

    @property
    def linear_rate(self) -> float:
        return (self.commission_bps + self.half_spread_bps) / 1e4

    def scaled(self, factor: float) -> CostModel:
        """Every cost component multiplied by `factor` (impact through its coefficient)."""
        return CostModel(
            self.commission_bps * factor,
            self.half_spread_bps * factor,
            self.impact_coefficient * factor,
            self.aum_usd,
        )


@dataclass(frozen=True)
class ImpactInputs:
    """date x asset panels known at each close: daily volatility and average daily dollar volume."""

    sigma: pd.DataFrame
    adv_usd: pd.DataFrame


def impact_inputs(
    close: pd.DataFrame,
    volume: pd.DataFrame | None,
    window: int = IMPACT_WINDOW_DAYS,
    fallback_adv_usd: float | None = None,
) -> ImpactInputs | None:
    """Trailing sigma and ADV from date x asset close and volume panels; None when not estimable
    (no volume anywhere and no fallback). Cells without enough volume use the fallback or stay NaN."""
    returns = close.pct_change(fill_method=None)
    sigma = returns.rolling(window, min_periods=window).std()
    if volume is not None and volume.notna().to_numpy().any():
        dollar = (close * volume.reindex_like(close)).where(lambda v: v > 0)
        adv = dollar.rolling(window, min_periods=window).mean()
    elif fallback_adv_usd is None:
        return None
    else:
        adv = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    if fallback_adv_usd is not None:
        adv = adv.fillna(float(fallback_adv_usd))
    return ImpactInputs(sigma=sigma, adv_usd=adv)


def linear_cost(trades: np.ndarray, model: CostModel) -> np.ndarray:
    """trades: k x n weight changes -> k costs (fraction of the book)."""
    return np.abs(trades).sum(axis=1) * model.linear_rate


def impact_per_sqrt_aum(
    trades: np.ndarray, sigma: np.ndarray, adv_usd: np.ndarray, coefficient: float
) -> np.ndarray:
    """k x n trades, sigma, ADV -> k impact costs per sqrt(dollar of AUM). Assets whose sigma or ADV
    is unknown contribute nothing (the caller reports whether impact was estimable at all)."""
    size = np.abs(trades)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = coefficient * sigma * size**1.5 / np.sqrt(adv_usd)
    per = np.where(np.isfinite(per) & (size > 0), per, 0.0)
    return per.sum(axis=1)
