"""Price sources: the bundled sample, a CSV file and the live providers (yfinance, Alpha Vantage, Finnhub)."""

from portfolio_dagster.resources.sources.csv_file import read_csv_actions, read_price_csv
from portfolio_dagster.resources.sources.errors import DataError, SourceError
from portfolio_dagster.resources.sources.sample import (
    RAW_COLUMNS,
    SAFE_SERIES_NOTE,
    SAMPLE_SPAN,
    sample_all,
    sample_prices,
    sample_safe_assets,
    sample_tickers,
    series_spans,
)

__all__ = [
    "RAW_COLUMNS",
    "SAFE_SERIES_NOTE",
    "SAMPLE_SPAN",
    "DataError",
    "SourceError",
    "read_csv_actions",
    "read_price_csv",
    "sample_all",
    "sample_prices",
    "sample_safe_assets",
    "sample_tickers",
    "series_spans",
]
