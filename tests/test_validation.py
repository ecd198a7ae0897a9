"""Validation of raw prices: every bad input is a rejected row with a reason; nothing is lost."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant.calendar import is_session, sessions
from portfolio_dagster.quant.validation import (
    REASON_ORDER,
    consolidate,
    disagreeing,
    missing_sessions,
    suspicious_jumps,
    validate,
)

TODAY = dt.date(2024, 6, 28)


def rows(*records) -> pd.DataFrame:
    cols = ["ticker", "date", "open", "high", "low", "close", "volume"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in records], columns=cols)


def good(ticker="AAA", date="2024-06-03", close=10.0, **kw):
    rec = {"open": 10.0, "high": 11.0, "low": 9.0, "volume": 100.0} | kw
    return (ticker, date, rec["open"], rec["high"], rec["low"], close, rec["volume"])


def reasons(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    clean, rejected = validate(raw, "test", today=TODAY)
    assert len(clean) + len(rejected) == len(raw), "every row is clean or rejected"
    return clean, dict(
        zip(
            zip(rejected["ticker"], rejected["close"].astype(str), strict=True),
            rejected["reason"],
            strict=True,
        )
    )


@pytest.mark.parametrize(
    "record, reason",
    [
        (good(close=np.nan), "missing close"),
        (good(close=np.inf), "non-finite close"),
        (good(close=-np.inf), "non-finite close"),
        (good(close=0.0), "non-positive close"),
        (good(close=-3.0), "non-positive close"),
        (good(open=0.0), "non-finite or non-positive open"),
        (good(high=np.inf), "non-finite or non-positive high"),
        (good(low=-1.0), "non-finite or non-positive low"),
        (good(volume=-5.0), "negative or non-finite volume"),
        (good(high=9.5), "high below max(open, close)"),
        (good(low=10.5), "low above min(open, close)"),
        (good(date="2024-06-01"), "weekend date"),
        (good(date="2024-06-19"), "not an XNYS trading day"),  # Juneteenth
        (good(date="2012-10-29"), "not an XNYS trading day"),  # Hurricane Sandy closure
        (good(date="2024-07-01"), "future date"),
        (good(close="12,5"), "non-numeric value"),
        (good(ticker=None), "missing ticker"),
        (good(ticker="  "), "missing ticker"),
    ],
)
def test_each_bad_row_is_rejected_with_its_reason(record, reason):
    raw = rows(record, good(ticker="OK"))
    clean, rejected = validate(raw, "test", today=TODAY)
    assert list(clean["ticker"]) == ["OK"]
    assert list(rejected["reason"]) == [reason]
    assert reason in REASON_ORDER
    assert rejected["source"].iat[0] == "test"


def test_close_only_rows_are_valid():
    clean, rejected = validate(
        rows(good(open=np.nan, high=np.nan, low=np.nan, volume=np.nan)), "s", today=TODAY
    )
    assert len(clean) == 1 and rejected.empty


def test_duplicate_keys_with_different_values_reject_every_copy_and_exact_copies_keep_one():
    raw = rows(good("AAA", close=10.0), good("AAA", close=10.5), good("BBB"), good("BBB"))
    clean, rejected = validate(raw, "s", today=TODAY)
    assert list(clean["ticker"]) == ["BBB"]
    assert sorted(rejected["reason"]) == ["duplicate key with different values"] * 2 + ["duplicate row"]


def test_unsorted_rows_give_the_same_clean_frame_as_sorted():
    raw = rows(
        good("BBB", "2024-06-04"),
        good("AAA", "2024-06-05"),
        good("AAA", "2024-06-03"),
        good("BBB", "2024-06-03"),
    )
    shuffled, _ = validate(raw, "s", today=TODAY)
    ordered, _ = validate(raw.sort_values(["ticker", "date"]), "s", today=TODAY)
    pd.testing.assert_frame_equal(shuffled, ordered)
    assert list(zip(shuffled["ticker"], shuffled["date"].dt.day, strict=True)) == [
        ("AAA", 3),
        ("AAA", 5),
        ("BBB", 3),
        ("BBB", 4),
    ]


def test_wrong_types_are_rejected_not_crashing():
    raw = rows(good(close="abc"), good(volume="many"), good(close=True), good(ticker="OK", close="10.25"))
    clean, rejected = validate(raw, "s", today=TODAY)
    assert list(clean["close"]) == [10.25]
    assert set(rejected["reason"]) == {"non-numeric value"}
    assert len(rejected) == 3


def test_unparseable_date_is_rejected():
    clean, rejected = validate(rows(good(date="not-a-date"), good("OK")), "s", today=TODAY)
    assert list(rejected["reason"]) == ["missing date"] and list(clean["ticker"]) == ["OK"]


def test_empty_input_gives_empty_outputs():
    clean, rejected = validate(rows(), "s", today=TODAY)
    assert clean.empty and rejected.empty


def test_tickers_with_quotes_semicolons_or_sql_stay_data():
    nasty = ["O'NEIL", 'QUO"TE', "A;B", "x'); DROP TABLE prices; --"]
    clean, rejected = validate(rows(*(good(t) for t in nasty)), "s", today=TODAY)
    assert sorted(clean["ticker"]) == sorted(nasty) and rejected.empty


def test_a_source_returning_another_tickers_data_is_rejected():
    raw = rows(good("MSFT"), good("AAPL"))
    raw["delivered_ticker"] = ["IBM", "AAPL"]
    clean, rejected = validate(raw, "alpha_vantage", today=TODAY)
    assert list(clean["ticker"]) == ["AAPL"]
    assert list(rejected["reason"]) == ["source returned another ticker's data"]


def test_consolidate_by_priority_fills_from_the_next_source_and_measures_disagreement():
    first, _ = validate(
        rows(good("AAA", "2024-06-03", 10.0), good("AAA", "2024-06-05", 10.0)), "yfinance", today=TODAY
    )
    second, _ = validate(
        rows(
            good("AAA", "2024-06-03", 10.2), good("AAA", "2024-06-04", 10.1), good("AAA", "2024-06-05", 10.0)
        ),
        "alpha_vantage",
        today=TODAY,
    )
    merged = consolidate([first, second])
    assert list(merged["date"].dt.day) == [3, 4, 5]
    assert list(merged["source"]) == ["yfinance", "alpha_vantage", "yfinance"]
    assert list(merged["close"]) == [10.0, 10.1, 10.0]
    assert list(merged["n_sources"]) == [2, 1, 2]
    assert merged["disagreement"].iat[0] == pytest.approx(0.02)
    assert np.isnan(merged["disagreement"].iat[1]) and merged["disagreement"].iat[2] == 0.0
    assert list(disagreeing(merged, 0.005)["date"].dt.day) == [3]
    # Reconciliation: raw = clean + merged away (no rejects here).
    assert len(first) + len(second) == len(merged) + 2


def test_suspicious_jump_that_reverses_is_flagged_but_a_lasting_move_is_not():
    days = sessions(dt.date(2024, 6, 3), dt.date(2024, 6, 15))
    bad_print = [10, 10, 20, 10, 10, 10, 10, 10, 10, 10]
    lasting_crash = [10, 10, 4, 4, 4.1, 4, 4, 4, 4, 4]
    frame = pd.concat(
        [
            pd.DataFrame({"ticker": "A", "date": days, "close": bad_print}),
            pd.DataFrame({"ticker": "B", "date": days, "close": lasting_crash}),
        ]
    )
    flagged = suspicious_jumps(frame, 0.5)
    assert list(flagged["ticker"]) == ["A"] and flagged["date"].iat[0] == days[2]
    assert flagged["move"].iat[0] == pytest.approx(1.0) and flagged["next_move"].iat[0] == pytest.approx(-0.5)


def test_missing_sessions_skip_holidays_and_find_gaps():
    days = sessions(dt.date(2024, 6, 17), dt.date(2024, 6, 25))  # Juneteenth is not a session
    assert pd.Timestamp("2024-06-19") not in days
    frame = pd.DataFrame({"ticker": "A", "date": days.delete(2)})
    missing = missing_sessions(frame, days, ["A", "B"])
    assert list(missing.itertuples(index=False, name=None)) == ([("A", days[2])] + [("B", d) for d in days])
    assert missing_sessions(pd.DataFrame({"ticker": "A", "date": days}), days).empty


def test_calendar_knows_weekends_and_special_closures():
    flags = is_session(pd.Series(pd.to_datetime(["2001-09-11", "2001-09-17", "2024-06-01", "2024-06-03"])))
    assert flags.tolist() == [False, True, False, True]
