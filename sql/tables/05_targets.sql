-- Forward-looking from `date` (portfolio_dagster/quant/targets.py); NULL where the horizon runs past the data.
-- Per horizon h: return_{h}d, risk_adj_return_{h}d (over trailing 63-day return vol * sqrt(h)),
-- significant_move_{h}d (|return| > that vol), direction_{h}d (return > 0); cross-sectional:
-- excess_return_{h}d (return less the universe's equal-weighted mean that date) and rank_{h}d (its
-- percentile among the universe's names that date, in (0, 1]).
CREATE TABLE IF NOT EXISTS targets (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    return_1d DOUBLE, return_5d DOUBLE, return_21d DOUBLE, return_63d DOUBLE,
    risk_adj_return_1d DOUBLE, risk_adj_return_5d DOUBLE, risk_adj_return_21d DOUBLE, risk_adj_return_63d DOUBLE,
    significant_move_1d BOOLEAN, significant_move_5d BOOLEAN, significant_move_21d BOOLEAN,
    significant_move_63d BOOLEAN,
    direction_1d BOOLEAN, direction_5d BOOLEAN, direction_21d BOOLEAN, direction_63d BOOLEAN,
    excess_return_1d DOUBLE, excess_return_5d DOUBLE, excess_return_21d DOUBLE, excess_return_63d DOUBLE,
    rank_1d DOUBLE, rank_5d DOUBLE, rank_21d DOUBLE, rank_63d DOUBLE,
    PRIMARY KEY (ticker, date)
);
-- Warehouses created before the cross-sectional targets existed get them on the next write connect.
ALTER TABLE targets ADD COLUMN IF NOT EXISTS excess_return_1d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS excess_return_5d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS excess_return_21d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS excess_return_63d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS rank_1d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS rank_5d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS rank_21d DOUBLE;
ALTER TABLE targets ADD COLUMN IF NOT EXISTS rank_63d DOUBLE;
