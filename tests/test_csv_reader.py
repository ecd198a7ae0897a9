"""The CSV reader: the polars path gives exactly what the row-by-row reader gives on well-formed files (odd
but valid forms included), and a broken file is one DataError line naming file, row and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from portfolio_dagster.resources.sources import DataError, read_price_csv
from portfolio_dagster.resources.sources.csv_file import _read_row_by_row, _read_with_polars

WELL_FORMED = {
    "full": "date,ticker,close,open,high,low,volume\n2024-06-03,AAA,10,10,11,9,100\n"
    "2024-06-04,BBB,20.5,,,,\n",
    "close only": "date,ticker,close\n2024-06-03,AAA,10\n2024-06-04,AAA,10.5\n",
    "header case, spaces, column order": " Ticker ,CLOSE, Date \nAAA , 10 , 2024-06-03\n",
    "missing markers": "date,ticker,close,volume\n2024-06-03,AAA,nan,NA\n2024-06-04,AAA,null,\n"
    "2024-06-05,AAA,NaN,0\n",
    "non-finite and signed numbers": "date,ticker,close\n2024-06-03,AAA,inf\n2024-06-04,AAA,-Infinity\n"
    "2024-06-05,AAA,+3\n2024-06-06,AAA,.5\n2024-06-07,AAA,1e-3\n",
    "quoted fields": 'date,ticker,close\n2024-06-03,"x\'); DROP TABLE prices; --",5\n2024-06-04,"A,B",7\n',
    "empty ticker": "date,ticker,close\n2024-06-03,,5\n2024-06-04,  ,6\n",
    "CRLF": "date,ticker,close\r\n2024-06-03,AAA,10\r\n",
    "extra column": "date,ticker,close,note\n2024-06-03,AAA,10,hello\n",
    # Forms Python accepts that the polars path hands to the row-by-row reader.
    "underscore number": "date,ticker,close\n2024-06-03,AAA,1_000\n",
    "compact ISO date": "date,ticker,close\n20240603,AAA,10\n",
}


@pytest.mark.parametrize("name", sorted(WELL_FORMED))
def test_polars_path_equals_the_row_by_row_reader(tmp_path: Path, name: str):
    path = tmp_path / "px.csv"
    path.write_text(WELL_FORMED[name], newline="")
    expected = _read_row_by_row(path)
    pd.testing.assert_frame_equal(read_price_csv(path), expected)
    assert len(expected) >= 1


def test_the_polars_path_takes_plain_files_and_refers_odd_forms(tmp_path: Path):
    plain, odd = tmp_path / "plain.csv", tmp_path / "odd.csv"
    plain.write_text(WELL_FORMED["full"])
    odd.write_text(WELL_FORMED["compact ISO date"])
    assert _read_with_polars(plain, None) is not None
    assert _read_with_polars(odd, None) is None
    # A date polars would read but Python's ISO parser refuses goes to the row-by-row reader too.
    lax = tmp_path / "lax.csv"
    lax.write_text("date,ticker,close\n2024-6-3,AAA,10\n")
    assert _read_with_polars(lax, None) is None


def test_header_only_is_an_empty_frame(tmp_path: Path):
    path = tmp_path / "px.csv"
    path.write_text("date,ticker,close\n")
    frame = read_price_csv(path)
    assert frame.empty and list(frame.columns) == ["ticker", "date", "open", "high", "low", "close", "volume"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "row 1: empty file"),
        ("date,ticker\n2024-06-03,AAA\n", "row 1, column 'close': required column missing"),
        (
            "date,ticker,close\n2024-06-03,AAA,10\n2024-13-03,AAA,10\n",
            "row 3, column 'date': '2024-13-03' is not an ISO date",
        ),
        (
            "date,ticker,close\n2024-06-03,AAA,10\n2024-06-04,AAA,12;5\n",
            "row 3, column 'close': '12;5' is not a number",
        ),
        (
            "date,ticker,close,volume\n2024-06-03,AAA,10,lots\n",
            "row 2, column 'volume': 'lots' is not a number",
        ),
        ("date,ticker,close\n2024-06-03,AAA,10,11\n", "row 2: more fields than the header"),
    ],
)
def test_a_broken_file_is_one_line_naming_file_row_and_column(tmp_path: Path, content: str, message: str):
    path = tmp_path / "px.csv"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        read_price_csv(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_not_utf8_and_missing_file(tmp_path: Path):
    path = tmp_path / "px.csv"
    path.write_bytes(b"date,ticker,close\n2024-06-03,\xff\xfe,10\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        read_price_csv(path)
    with pytest.raises(DataError, match="file not found"):
        read_price_csv(tmp_path / "absent.csv")


@pytest.mark.parametrize("name", ["full", "compact ISO date"])  # the polars path and the row-by-row one
def test_a_window_keeps_the_rows_of_its_dates_and_still_checks_the_whole_file(tmp_path: Path, name: str):
    path = tmp_path / "px.csv"
    path.write_text(WELL_FORMED[name] + ("2024-06-05,AAA,12\n" if name == "full" else "20240605,AAA,12\n"))
    whole = read_price_csv(path)
    window = (dt.date(2024, 6, 4), dt.date(2024, 6, 6))
    expected = whole[[window[0] <= d < window[1] for d in whole["date"]]].reset_index(drop=True)
    assert 0 < len(expected) < len(whole)
    pd.testing.assert_frame_equal(read_price_csv(path, window), expected)
    broken = tmp_path / "broken.csv"
    broken.write_text(WELL_FORMED["full"] + "2024-06-05,AAA,abc\n")
    with pytest.raises(DataError, match="row 4"):
        read_price_csv(broken, window)  # a bad row outside the window is still an error
