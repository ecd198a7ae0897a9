-- Made at the close of `date` (the as-of date); prediction is the forward return over `horizon` days.
-- One row per enabled model family and one `ensemble` row; lower/upper: the split-conformal 10%/90%
-- interval from the validation window's residuals.
CREATE TABLE IF NOT EXISTS forecasts (
    ticker VARCHAR NOT NULL, date DATE NOT NULL, horizon INTEGER NOT NULL, model VARCHAR NOT NULL,
    prediction DOUBLE NOT NULL, lower DOUBLE, upper DOUBLE, model_id VARCHAR NOT NULL,
    PRIMARY KEY (ticker, date, horizon, model)
);
