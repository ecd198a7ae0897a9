"""The csv source: a user's price file."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import pandas as pd
import polars as pl

from portfolio_dagster.resources.sources.errors import DataError
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS

REQUIRED_CSV_COLUMNS = ("date", "ticker", "close")
OPTIONAL_CSV_COLUMNS = ("open", "high", "low", "volume")


def read_price_csv(path: str | Path, window: tuple[dt.date, dt.date] | None = None) -> pd.DataFrame:
    """Parse a price CSV. Structural problems raise DataError naming file, row and column;
    row-level value problems (NaN, non-positive, duplicates, off-calendar) are left for validation.
    window: only the rows with start <= date < end (the whole file is still parsed and checked; a daily
    session of a 20-year, 500-name file keeps 500 of its 2.5 M rows before they become Python objects).

    polars parses a well-formed file (about 20x faster than row by row: benchmarks/bench_csv.py); anything
    it does not read plainly goes to the row-by-row reader, which accepts every form Python's date and
    float parsers accept or names the first bad row and column."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    fast = _read_with_polars(path, window)
    if fast is not None:
        return fast
    frame = _read_row_by_row(path)
    if window is None:
        return frame
    keep = [window[0] <= d < window[1] for d in frame["date"]]
    return frame[keep].reset_index(drop=True)


def _read_with_polars(path: Path, window: tuple[dt.date, dt.date] | None) -> pd.DataFrame | None:
    """RAW_COLUMNS of a plainly well-formed file; None when any header, date or number needs a closer look."""
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=True)
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError):
        return None
    header = [c.strip().lower() for c in frame.columns]
    if len(set(header)) != len(header) or any(c not in header for c in REQUIRED_CSV_COLUMNS):
        return None
    frame.columns = header
    text = {
        c: pl.col(c).str.strip_chars() if c in header else pl.lit(None, pl.String)
        for c in ("date", "ticker", "close", *OPTIONAL_CSV_COLUMNS)
    }
    missing = {
        c: text[c].is_null() | text[c].str.to_lowercase().is_in(["", "nan", "na", "null"])
        for c in ("close", *OPTIONAL_CSV_COLUMNS)
    }
    number = {
        c: pl.when(missing[c]).then(float("nan")).otherwise(text[c].cast(pl.Float64, strict=False))
        for c in missing
    }
    parsed = frame.select(
        ticker=pl.when(text["ticker"] == "").then(None).otherwise(text["ticker"]),
        date=pl.when(text["date"].str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(
            text["date"].str.to_date("%Y-%m-%d", strict=False)
        ),
        **{c: number[c] for c in ("open", "high", "low", "close", "volume")},
    )
    if parsed["date"].null_count() or any(parsed[c].null_count() for c in number):
        return None
    if window is not None:
        parsed = parsed.filter((pl.col("date") >= window[0]) & (pl.col("date") < window[1]))
    out = parsed.drop("date").to_pandas()
    out["date"] = pd.Series(parsed["date"].to_list(), dtype=object)  # datetime.date, as row by row
    return out[RAW_COLUMNS]


def _read_row_by_row(path: Path) -> pd.DataFrame:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            if not header:
                raise DataError(
                    f"{path}: row 1: empty file, expected a header with {', '.join(REQUIRED_CSV_COLUMNS)}"
                )
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
        raise DataError(
            f"{path}: row {line}, column 'date': {raw_date!r} is not an ISO date (YYYY-MM-DD)"
        ) from None
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
    return (
        ticker or None,
        date,
        values["open"],
        values["high"],
        values["low"],
        values["close"],
        values["volume"],
    )


ACTION_CSV_COLUMNS = ("split_ratio", "dividend")


def read_csv_actions(path: str | Path) -> pd.DataFrame:
    """The corporate actions a price CSV carries in its optional columns (ticker, date, kind, ratio,
    amount): `split_ratio` new shares per old on a split's ex-date (empty or 1: none), `dividend` the cash
    per share going ex that date (empty or 0: none). A value that is not a positive number raises
    DataError naming file, row and column."""
    path = Path(path)
    header = [c.strip().lower() for c in pd.read_csv(path, nrows=0).columns]
    present = [c for c in ACTION_CSV_COLUMNS if c in header]
    columns = ["ticker", "date", "kind", "ratio", "amount"]
    if not present:
        return pd.DataFrame(columns=columns)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = header
    rows = []
    for i, rec in enumerate(frame[["ticker", "date", *present]].itertuples(index=False), start=2):
        values = rec._asdict()
        for column in present:
            text = values[column].strip()
            if text.lower() in ("", "nan", "na", "null"):
                continue
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number < 0 or (column == "split_ratio" and number == 0):
                raise DataError(f"{path}: row {i}, column {column!r}: {text!r} is not a positive number")
            if (column == "split_ratio" and number == 1.0) or (column == "dividend" and number == 0.0):
                continue
            try:
                day = dt.date.fromisoformat(values["date"].strip())
            except ValueError:
                raise DataError(f"{path}: row {i}, column 'date': {values['date']!r} is not a date") from None
            split = column == "split_ratio"
            rows.append(
                {
                    "ticker": values["ticker"].strip(),
                    "date": day,
                    "kind": "split" if split else "dividend",
                    "ratio": number if split else None,
                    "amount": None if split else number,
                }
            )
    return pd.DataFrame(rows, columns=columns)
