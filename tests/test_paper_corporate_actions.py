"""Corporate actions in the paper ledger (synthetic adjusted prices, labelled test data): a split multiplies
the shares held on its ex-date and a cash dividend credits cash, each as a new adjusting row; the ledger
values real shares at the prices that traded, so its returns agree with the adjusted returns of the
backtest across both, and with the same ledger booked without the actions."""

import numpy as np
import pandas as pd
import yaml

from portfolio_dagster.assets.paper import PAPER_TABLES, paper_ledger
from portfolio_dagster.quant.corporate_actions import (
    DIVIDEND,
    SPLIT,
    apply_actions,
    as_traded_multipliers,
    by_priority,
)
from portfolio_dagster.quant.ledger import reconcile
from tests.test_paper_ledger import _run, ledger  # noqa: F401 - the fixture

SPLIT_DAY, DIVIDEND_DAY = 320, 340


def test_apply_actions_splits_shares_and_orders_and_pays_dividends_on_shares_held_before_a_split():
    quantity = pd.Series({"A": 10.0, "B": 5.0})
    orders = pd.DataFrame({"ticker": ["A"], "quantity": [2.0], "reference_price": [40.0]})
    actions = pd.DataFrame(
        {
            "ticker": ["A", "A", "B"],
            "date": ["2024-01-02"] * 3,
            "kind": [SPLIT, DIVIDEND, "restatement"],
            "ratio": [4.0, None, 0.5],
            "amount": [None, 1.5, None],
            "source": ["csv"] * 3,
        }
    )
    book = apply_actions(quantity, 100.0, orders, actions, "2024-01-02")
    assert book.quantity["A"] == 40.0 and book.cash == 100.0 + 10 * 1.5
    assert book.quantity["B"] == 10.0  # prices halved by the re-basing: twice the shares, same value
    assert book.orders["quantity"].iat[0] == 8.0 and book.orders["reference_price"].iat[0] == 10.0
    assert list(book.adjustments["kind"]) == [DIVIDEND, SPLIT, "restatement"]
    assert quantity["A"] == 10.0  # the input is not modified


def test_as_traded_prices_undo_the_adjustment_of_later_actions():
    dates = pd.bdate_range("2024-01-01", periods=6)
    actions = pd.DataFrame(
        {
            "ticker": ["A", "A"],
            "date": [dates[2], dates[4]],
            "kind": [SPLIT, DIVIDEND],
            "ratio": [2.0, None],
            "amount": [None, 1.0],
        }
    )
    # Adjusted close before the dividend's ex-date is 19; it traded at 19 (no later action).
    factors = as_traded_multipliers(dates, actions, pd.Series([50.0, 19.0]))
    dividend_factor = 1 / (1 - 1.0 / 19.0)
    np.testing.assert_allclose(factors["A"], [2 * dividend_factor] * 2 + [dividend_factor] * 2 + [1.0] * 2)


def test_ledger_applies_a_split_and_a_dividend_and_agrees_with_the_adjusted_returns(ledger):  # noqa: F811
    wh, cfg, days = ledger
    _run(wh, cfg, [paper_ledger], days[300], days[359])
    plain = wh.query("SELECT * FROM paper_account ORDER BY date")
    wh.delete_from(PAPER_TABLES, "date", None)

    stocks = sorted(set(wh.query("SELECT DISTINCT ticker FROM allocations WHERE sleeve = 'risky'")["ticker"]))
    split_day, dividend_day = days[SPLIT_DAY].date(), days[DIVIDEND_DAY].date()
    wh.append(
        "corporate_actions",
        pd.DataFrame(
            [
                {"ticker": t, "date": split_day, "kind": SPLIT, "ratio": 4.0, "amount": None, "source": "csv"}
                for t in stocks
            ]
            + [
                {
                    "ticker": t,
                    "date": dividend_day,
                    "kind": DIVIDEND,
                    "ratio": None,
                    "amount": 0.2,
                    "source": "csv",
                }
                for t in stocks
            ]
        ),
    )
    _run(wh, cfg, [paper_ledger], days[300], days[359])
    account = wh.query("SELECT * FROM paper_account ORDER BY date")
    positions = wh.query("SELECT * FROM paper_positions ORDER BY date, ticker")
    adjustments = wh.query("SELECT * FROM paper_adjustments ORDER BY date, ticker, kind")

    splits = adjustments[adjustments["kind"] == SPLIT]
    assert len(splits) and (pd.to_datetime(splits["date"]).dt.date == split_day).all()
    np.testing.assert_allclose(splits["quantity_after"], 4 * splits["quantity_before"])
    dividends = adjustments[adjustments["kind"] == DIVIDEND]
    assert len(dividends) and (pd.to_datetime(dividends["date"]).dt.date == dividend_day).all()
    np.testing.assert_allclose(dividends["cash_usd"], 0.2 * dividends["quantity_before"])
    # A held name's shares: x4 from the split day on (against the day before, no trade in between).
    held = positions.pivot(index="date", columns="ticker", values="quantity")
    name = splits["ticker"].iat[0]
    before, on = held.loc[pd.Timestamp(days[SPLIT_DAY - 1]), name], held.loc[pd.Timestamp(split_day), name]
    assert on >= 3 * before

    # NAV continuous: the ledger's returns match the backtest's adjusted returns and the ledger without
    # the actions (whole-share rounding of a different share count aside).
    both = account.merge(plain, on="date", suffixes=("", "_plain")).dropna(subset=["daily_return"])
    assert len(both) == 59
    assert np.abs(both["daily_return"] - both["daily_return_plain"]).max() < 2e-3
    ex = both[pd.to_datetime(both["date"]).dt.date.isin([split_day, dividend_day])]
    assert len(ex) == 2 and (np.abs(ex["daily_return"] - ex["backtest_return"]) < 5e-3).all()
    assert (
        reconcile(
            account, positions, wh.query("SELECT * FROM paper_fills"), wh.query("SELECT * FROM paper_orders")
        )
        == []
    )


def test_by_priority_keeps_the_action_of_the_first_source_in_data_sources():
    actions = pd.DataFrame(
        {
            "ticker": ["A", "A", "A", "B"],
            "date": ["2024-01-02"] * 4,
            "kind": [DIVIDEND] * 4,
            "ratio": [None] * 4,
            "amount": [0.25, 0.24, 0.26, 1.0],
            "source": ["alpha_vantage", "yfinance", "csv", "csv"],
        }
    )
    kept = by_priority(actions, ["yfinance", "alpha_vantage"])
    assert kept[["ticker", "source", "amount"]].values.tolist() == [
        ["A", "yfinance", 0.24],
        ["B", "csv", 1.0],
    ]
    # A source data.sources does not name comes after those it names (then by name).
    assert by_priority(actions, ["alpha_vantage"])["source"].tolist() == ["alpha_vantage", "csv"]
    assert by_priority(actions, [])["source"].tolist() == ["alpha_vantage", "csv"]


def test_ledger_applies_the_split_of_the_source_data_sources_puts_first(ledger):  # noqa: F811
    """Two sources disagree on a split: the ledger follows data.sources (yfinance before alpha_vantage),
    not the sources' names."""
    wh, cfg, days = ledger
    settings = yaml.safe_load(cfg.read_text())
    settings["data"]["sources"] = ["yfinance", "alpha_vantage"]
    cfg.write_text(yaml.safe_dump(settings))
    stocks = sorted(set(wh.query("SELECT DISTINCT ticker FROM allocations WHERE sleeve = 'risky'")["ticker"]))
    split_day = days[SPLIT_DAY].date()
    rows = [
        {"ticker": t, "date": split_day, "kind": SPLIT, "ratio": ratio, "amount": None, "source": source}
        for t in stocks
        for source, ratio in (("alpha_vantage", 2.0), ("yfinance", 4.0))
    ]
    wh.append("corporate_actions", pd.DataFrame(rows))
    _run(wh, cfg, [paper_ledger], days[SPLIT_DAY - 3], days[SPLIT_DAY + 1])
    splits = wh.query("SELECT * FROM paper_adjustments WHERE kind = 'split'")
    assert len(splits) and (splits["ratio"] == 4.0).all()
    np.testing.assert_allclose(splits["quantity_after"], 4 * splits["quantity_before"])
    assert len(splits) == splits["ticker"].nunique()  # applied once per ticker
