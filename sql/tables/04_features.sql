-- One column per feature; a value at `date` uses only prices dated <= `date`.
-- The column list must equal portfolio_dagster.quant.features.FEATURE_NAMES (tests/test_sql.py checks it).
CREATE TABLE IF NOT EXISTS features (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    ret_1d DOUBLE, ret_5d DOUBLE, ret_21d DOUBLE, ret_63d DOUBLE,
    vol_21d DOUBLE, vol_63d DOUBLE, bollinger_position DOUBLE,
    PRIMARY KEY (ticker, date)
);
