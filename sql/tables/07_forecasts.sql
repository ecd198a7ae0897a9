-- Made at the close of `date` (the as-of date); prediction is the forward return over `horizon` days.
-- One row per enabled model family and one `ensemble` row; lower/upper: the split-conformal 10%/90%
-- interval from the validation window's residuals.
-- Key (ticker, date, horizon, model), unique: checked by the writer (Warehouse.replace_range, in the
-- write's transaction), not a PRIMARY KEY: DuckDB's index made inserts 5x slower and is held in memory
-- (the largest tables: 35 M and 50 M rows at 500 names x 20 years). Warehouses made before keep theirs.
CREATE TABLE IF NOT EXISTS forecasts (
    ticker VARCHAR NOT NULL, date DATE NOT NULL, horizon INTEGER NOT NULL, model VARCHAR NOT NULL,
    prediction DOUBLE NOT NULL, lower DOUBLE, upper DOUBLE, model_id VARCHAR NOT NULL
);
