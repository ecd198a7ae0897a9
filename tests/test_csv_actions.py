"""A price CSV's optional split_ratio and dividend columns become rows of corporate_actions (source csv),
recorded once: a later run keeps the date they were first known; a bad value is one line naming the
file, row and column."""

import dagster as dg
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.raw_prices import raw_prices_csv
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import DataError, read_csv_actions
from portfolio_dagster.resources.warehouse import Warehouse

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
CSV = """date,ticker,close,split_ratio,dividend
2024-01-02,AAA,100,,
2024-01-03,AAA,26,4,
2024-01-04,AAA,25.5,1,0.25
2024-01-04,BBB,50,,0
2024-01-05,BBB,49,,
"""


def test_csv_actions_land_in_corporate_actions_once(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text(CSV)
    actions = read_csv_actions(csv)
    assert actions[["ticker", "kind"]].values.tolist() == [["AAA", "split"], ["AAA", "dividend"]]
    assert actions["ratio"].iat[0] == 4.0 and actions["amount"].iat[1] == 0.25
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"sources": ["csv"], "csv_path": str(csv)}}))
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))

    def run():
        dg.materialize(
            [raw_prices_csv],
            resources={"warehouse": wh, "settings": PipelineSettings(config_path=str(cfg))},
            tags={RANGE[0]: "2024-01-02", RANGE[1]: "2024-01-05"},
        )
        return wh.query("SELECT * FROM corporate_actions ORDER BY date, kind")

    first = run()
    assert first[["ticker", "kind", "source"]].values.tolist() == [
        ["AAA", "split", "csv"],
        ["AAA", "dividend", "csv"],
    ]
    assert pd.to_datetime(first["date"]).dt.date.astype(str).tolist() == ["2024-01-03", "2024-01-04"]
    second = run()
    pd.testing.assert_frame_equal(first, second)  # recorded_at kept: when it was first known


@pytest.mark.parametrize(
    ("value", "column"), [("-2", "split_ratio"), ("abc", "dividend"), ("0", "split_ratio")]
)
def test_bad_action_value_is_one_line_naming_row_and_column(tmp_path, value, column):
    csv = tmp_path / "p.csv"
    row = f"2024-01-03,AAA,26,{value}," if column == "split_ratio" else f"2024-01-03,AAA,26,,{value}"
    csv.write_text("date,ticker,close,split_ratio,dividend\n2024-01-02,AAA,100,,\n" + row + "\n")
    with pytest.raises(DataError, match=f"row 3, column '{column}'"):
        read_csv_actions(csv)


def test_a_csv_redelivered_back_adjusted_is_rebased_not_stitched(tmp_path):
    """The vendor's file on day 3, then re-delivered after a 2:1 split on 2024-01-05 (history halved)."""
    csv = tmp_path / "p.csv"
    csv.write_text("date,ticker,close\n2024-01-02,AAA,100\n2024-01-03,AAA,102\n2024-01-04,AAA,104\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump({"data": {"sources": ["csv"], "csv_path": str(csv), "live": {"overlap_days": 2}}})
    )
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))

    def run(start, end):
        dg.materialize(
            [raw_prices_csv],
            resources={"warehouse": wh, "settings": PipelineSettings(config_path=str(cfg))},
            tags={RANGE[0]: start, RANGE[1]: end},
        )

    run("2024-01-02", "2024-01-04")
    csv.write_text(
        "date,ticker,close,split_ratio\n2024-01-02,AAA,50,\n2024-01-03,AAA,51,\n2024-01-04,AAA,52,\n"
        "2024-01-05,AAA,53,2\n"
    )
    run("2024-01-05", "2024-01-05")
    stored = wh.query("SELECT date, close FROM raw_prices_csv ORDER BY date")
    assert stored["close"].tolist() == [50.0, 51.0, 52.0, 53.0]
    actions = wh.query("SELECT kind, ratio, date FROM corporate_actions ORDER BY kind")
    assert actions["kind"].tolist() == ["restatement", "split"]
    assert actions["ratio"].tolist() == [0.5, 2.0]
    assert {str(pd.Timestamp(d).date()) for d in actions["date"]} == {"2024-01-05"}
