"""Every multi-statement write of the Warehouse is one transaction: a write that fails part-way leaves
the rows it would have replaced (synthetic prices)."""

import datetime as dt

import pandas as pd
import pytest

from portfolio_dagster.resources.warehouse import Warehouse


def _prices(days: pd.DatetimeIndex, close: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"ticker": "AAA", "date": days, "open": close, "high": close, "low": close, "close": close}
    ).assign(volume=1.0, source="csv")


def test_a_failed_replace_keeps_the_rows_it_would_have_replaced(tmp_path):
    wh = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    days = pd.bdate_range("2020-01-01", "2020-01-31")
    wh.replace_range("prices", _prices(days, 10.0), dt.date(2020, 1, 1), dt.date(2020, 2, 1))
    bad = _prices(days, 11.0).assign(no_such_column=1)  # INSERT ... BY NAME fails after the DELETE
    for write in (
        lambda: wh.replace_range("prices", bad, dt.date(2020, 1, 1), dt.date(2020, 2, 1)),
        lambda: wh.replace_where("prices", bad, "ticker", ["AAA"]),
        lambda: wh.append_all([("prices", _prices(days[:1] + pd.Timedelta(days=60), 12.0)), ("prices", bad)]),
    ):
        with pytest.raises(Exception, match="no_such_column"):
            write()
        kept = wh.query("SELECT date, close FROM prices ORDER BY date")
        assert len(kept) == len(days) and (kept["close"] == 10.0).all()
    assert wh.delete_from(["prices"], "date", dt.date(2020, 1, 15)) == {"prices": 13}
