-- Made at the close of `date`: the standard deviation of the return over the next `horizon` sessions
-- (not annualized), per name and for the equal-weight universe (ticker '_universe'). model: ewma
-- (RiskMetrics 0.94), har (Corsi), an ML family (log_linear, lightgbm) and `chosen`, the one the strategy
-- uses: the lowest mean QLIKE over the inner (calibration) windows of the latest retrain date <= `date`
-- and every earlier one (quant/risk_walk_forward.choose).
-- Key (ticker, date, horizon, model), unique: checked by the writer (Warehouse.replace_range, in the
-- write's transaction), not a PRIMARY KEY: DuckDB's index made inserts 5x slower and is held in memory
-- (the largest tables: 35 M and 50 M rows at 500 names x 20 years). Warehouses made before keep theirs.
CREATE TABLE IF NOT EXISTS risk_forecasts (
    ticker VARCHAR NOT NULL, date DATE NOT NULL, horizon INTEGER NOT NULL, model VARCHAR NOT NULL,
    volatility DOUBLE NOT NULL, valid_from DATE NOT NULL
);
