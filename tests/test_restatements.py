"""compare_overlap: a common-factor change of the overlap is a restatement effective at the first date
after it; any other change is a data error naming ticker and dates; an unchanged overlap is neither."""

import pandas as pd

from portfolio_dagster.quant.restatements import compare_overlap

DATES = pd.bdate_range("2024-03-04", periods=5)


def _frame(ticker, closes, dates=DATES):
    return pd.DataFrame({"ticker": ticker, "date": dates[: len(closes)], "close": closes})


def test_common_factor_is_a_restatement_and_other_changes_are_errors():
    stored = pd.concat(
        [_frame("A", [10.0, 11.0, 12.0]), _frame("B", [5.0, 5.0, 5.0]), _frame("C", [7.0, 7.0, 7.0])]
    )
    fresh = pd.concat(
        [
            _frame("A", [9.8, 10.78, 11.76, 12.0]),  # x0.98 (a dividend) + a new day
            _frame("B", [5.0, 5.0, 5.0, 5.1]),  # unchanged
            _frame("C", [7.0, 7.7, 7.0, 7.0]),  # one day changed
        ]
    )
    check = compare_overlap(stored, fresh)
    assert check.restatements["ticker"].tolist() == ["A"]
    assert abs(check.restatements["ratio"].iat[0] - 0.98) < 1e-12
    assert check.restatements["date"].iat[0] == DATES[3].date()
    assert len(check.errors) == 1 and check.errors[0].startswith(
        "C: the refetched closes of 2024-03-05..2024-03-05"
    )
