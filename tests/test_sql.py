"""The features and targets DDL agree with the code that fills them."""

from __future__ import annotations

import duckdb

from portfolio_dagster.quant import features, targets
from portfolio_dagster.quant.features.ddl import features_ddl
from portfolio_dagster.resources.schema import SQL_DIR


def _columns(ddl: str, table: str) -> list[str]:
    con = duckdb.connect(":memory:")
    con.execute(ddl)
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def test_features_ddl_columns_equal_the_feature_names():
    ddl = (SQL_DIR / "tables" / "04_features.sql").read_text()
    assert _columns(ddl, "features") == ["ticker", "date", *features.FEATURE_NAMES]


def test_features_ddl_file_is_the_generated_one():
    assert (SQL_DIR / "tables" / "04_features.sql").read_text() == features_ddl(), (
        "regenerate: .venv/bin/python -m portfolio_dagster.quant.features.ddl > sql/tables/04_features.sql"
    )


def test_targets_ddl_columns_are_every_kind_per_default_horizon():
    ddl = (SQL_DIR / "tables" / "05_targets.sql").read_text()
    cols = _columns(ddl, "targets")
    assert cols[:2] == ["ticker", "date"]
    assert set(cols[2:]) == set(targets.target_columns((1, 5, 21, 63)))
