"""Price sources. `sample`: real prices shipped in the skfolio package. `csv`: a user's file."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import pandas as pd

SAMPLE_SPAN = (dt.date(1990, 1, 2), dt.date(2022, 12, 28))
REQUIRED_CSV_COLUMNS = ("date", "ticker", "close")
OPTIONAL_CSV_COLUMNS = ("open", "high", "low", "volume")
RAW_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "volume"]


class DataError(ValueError):
    """Input the pipeline cannot read; the message is one line naming where."""


def sample_prices(benchmark: str) -> pd.DataFrame:
    """20 US large caps (adjusted close) and the S&P 500 price index, 1990-01-02..2022-12-28."""
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    stocks = load_sp500_dataset()
    index = load_sp500_index().rename(columns={"SP500": benchmark})
    wide = stocks.join(index, how="outer")
    wide.index.name = "date"
    out = wide.reset_index().melt(id_vars="date", var_name="ticker", value_name="close")
    out = out.dropna(subset=["close"])
    for col in ("open", "high", "low", "volume"):
        out[col] = float("nan")
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out[RAW_COLUMNS].sort_values(["ticker", "date"]).reset_index(drop=True)


def sample_tickers() -> list[str]:
    from skfolio.datasets import load_sp500_dataset

    return sorted(load_sp500_dataset().columns)


def read_price_csv(path: str | Path) -> pd.DataFrame:
    """Parse a price CSV. Structural problems raise DataError naming file, row and column;
    row-level value problems (NaN, non-positive, duplicates, off-calendar) are left for validation."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            if not header:
                raise DataError(f"{path}: row 1: empty file, expected a header with {', '.join(REQUIRED_CSV_COLUMNS)}")
            missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
            if missing:
                raise DataError(f"{path}: row 1, column {missing[0]!r}: required column missing")
            reader.fieldnames = header
            rows = []
            for line, rec in enumerate(reader, start=2):
                rows.append(_parse_row(path, line, rec))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise DataError(f"{path}: unreadable CSV: {exc}") from None
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def _parse_row(path: Path, line: int, rec: dict) -> tuple:
    if None in rec:
        raise DataError(f"{path}: row {line}: more fields than the header")
    raw_date = (rec.get("date") or "").strip()
    try:
        date = dt.date.fromisoformat(raw_date)
    except ValueError:
        raise DataError(f"{path}: row {line}, column 'date': {raw_date!r} is not an ISO date (YYYY-MM-DD)") from None
    values = {}
    for col in ("close", *OPTIONAL_CSV_COLUMNS):
        text = (rec.get(col) or "").strip()
        if text == "" or text.lower() in ("nan", "na", "null"):
            values[col] = math.nan
            continue
        try:
            values[col] = float(text)
        except ValueError:
            raise DataError(f"{path}: row {line}, column {col!r}: {text!r} is not a number") from None
    ticker = (rec.get("ticker") or "").strip()
    return (ticker or None, date, values["open"], values["high"], values["low"], values["close"], values["volume"])
