-- Forward-looking from `date` (portfolio_dagster/quant/targets.py); NULL where the horizon runs past the data.
-- Per horizon h: return_{h}d, risk_adj_return_{h}d (over trailing 63-day return vol * sqrt(h)),
-- significant_move_{h}d (|return| > that vol), direction_{h}d (return > 0).
CREATE TABLE IF NOT EXISTS targets (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    return_1d DOUBLE, return_5d DOUBLE, return_21d DOUBLE, return_63d DOUBLE,
    risk_adj_return_1d DOUBLE, risk_adj_return_5d DOUBLE, risk_adj_return_21d DOUBLE, risk_adj_return_63d DOUBLE,
    significant_move_1d BOOLEAN, significant_move_5d BOOLEAN, significant_move_21d BOOLEAN,
    significant_move_63d BOOLEAN,
    direction_1d BOOLEAN, direction_5d BOOLEAN, direction_21d BOOLEAN, direction_63d BOOLEAN,
    PRIMARY KEY (ticker, date)
);
