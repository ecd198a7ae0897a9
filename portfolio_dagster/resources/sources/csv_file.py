"""The csv source: a user's price file."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import pandas as pd

from portfolio_dagster.resources.sources.errors import DataError
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS

REQUIRED_CSV_COLUMNS = ("date", "ticker", "close")
OPTIONAL_CSV_COLUMNS = ("open", "high", "low", "volume")


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
