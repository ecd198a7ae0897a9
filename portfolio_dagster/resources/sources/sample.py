"""The bundled sample: real prices shipped in installed packages (skfolio, arch), readable offline.

Series and spans (documented; no row past a series' last day):
- 20 US large caps, adjusted close: skfolio load_sp500_dataset, 1990-01-02..2022-12-28.
- S&P 500 price index (the benchmark): skfolio load_sp500_index, 1990-01-02..2022-12-28.
- CASH: total-return index of the Fama-French one-month T-bill rate (arch.data.frenchdata, monthly to
  2018-11), 1990-01-02..2018-11-30.
- BOND: total-return proxy of a 20-year par bond at Moody's AAA yield (arch.data.default, monthly to
  2018-12; each month's return accrues the month after, when the yield is known), 1990-01-02..2019-01-31.
After CASH and BOND end they have no rows: the backtest earns 0 on a holding without a price (the safe
sleeve then earns nothing), and raw_prices_sample's metadata says so.
"""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd

from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.market_data import bond_index, cash_index

SAMPLE_SPAN = (dt.date(1990, 1, 2), dt.date(2022, 12, 28))
RAW_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "volume"]
CASH_TICKER = "CASH"
BOND_TICKER = "BOND"
SAMPLE_INDEX = "SP500"  # skfolio's name of the S&P 500 price index
SAFE_SERIES_NOTE = (
    "CASH (Fama-French RF) ends 2018-11-30 and BOND (Moody's AAA proxy) ends 2019-01-31: "
    "no rows after, so a holding earns 0 there"
)


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    wide = wide.copy()
    wide.index.name = "date"
    out = (
        wide.reset_index()
        .melt(id_vars="date", var_name="ticker", value_name="close")
        .dropna(subset=["close"])
    )
    for col in ("open", "high", "low", "volume"):
        out[col] = float("nan")
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out[RAW_COLUMNS].sort_values(["ticker", "date"]).reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def _stocks_and_index(benchmark: str) -> pd.DataFrame:
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    stocks = load_sp500_dataset()
    # The index is delivered under the benchmark's name, unless that name is one of the sample's own
    # series (a stock, CASH, BOND): then that series is the benchmark and the index keeps its name.
    taken = {*stocks.columns, CASH_TICKER, BOND_TICKER}
    index = load_sp500_index()
    if benchmark not in taken:
        index = index.rename(columns={SAMPLE_INDEX: benchmark})
    return _long(stocks.join(index, how="outer"))


def sample_prices(benchmark: str) -> pd.DataFrame:
    """20 US large caps (adjusted close) and the S&P 500 price index, 1990-01-02..2022-12-28."""
    return _stocks_and_index(benchmark).copy()


def fama_french_rf() -> pd.Series:
    """Monthly risk-free rate in percent, indexed by month start (the package's index holds yyyymm)."""
    from arch.data import frenchdata

    ff = frenchdata.load()
    yyyymm = ff.index.asi8 if isinstance(ff.index, pd.DatetimeIndex) else ff.index.astype(int)
    months = pd.to_datetime([f"{v // 100}-{v % 100:02d}-01" for v in yyyymm])
    return pd.Series(ff["RF"].to_numpy(dtype=float), index=months)


def moodys_aaa() -> pd.Series:
    """Moody's seasoned AAA corporate yield in percent, monthly, indexed by month start."""
    from arch.data import default

    return default.load()["AAA"].astype(float)


@functools.lru_cache(maxsize=1)
def _safe_assets() -> pd.DataFrame:
    days = sessions(*SAMPLE_SPAN[0:1], SAMPLE_SPAN[1] + dt.timedelta(days=1))
    wide = pd.DataFrame(
        {CASH_TICKER: cash_index(fama_french_rf(), days), BOND_TICKER: bond_index(moodys_aaa(), days)}
    )
    return _long(wide)


def sample_safe_assets() -> pd.DataFrame:
    """CASH and BOND total-return indices (100 on 1990-01-02) on XNYS sessions, within their spans."""
    return _safe_assets().copy()


def sample_all(benchmark: str) -> pd.DataFrame:
    """Everything the sample source delivers: stocks, benchmark index, CASH and BOND."""
    return pd.concat([_stocks_and_index(benchmark), _safe_assets()], ignore_index=True)


def sample_tickers() -> list[str]:
    from skfolio.datasets import load_sp500_dataset

    return sorted(load_sp500_dataset().columns)


def series_spans(frame: pd.DataFrame) -> dict[str, str]:
    """ticker -> 'first..last' of the rows present."""
    spans = frame.groupby("ticker")["date"].agg(["min", "max"])
    return {t: f"{r['min']}..{r['max']}" for t, r in spans.iterrows()}


def sample_series(benchmark: str) -> set[str]:
    """Every ticker the sample delivers with this benchmark: the stocks, the index (named after the
    benchmark unless the benchmark is one of the sample's own series), CASH and BOND."""
    stocks = set(sample_tickers())
    taken = {*stocks, CASH_TICKER, BOND_TICKER}
    return taken | {benchmark if benchmark not in taken else SAMPLE_INDEX}


# The sample's own constructions, under names no live provider delivers as these series.
SAMPLE_ONLY_SERIES = frozenset({SAMPLE_INDEX, CASH_TICKER, BOND_TICKER})
