-- Made at the close of `date` (the as-of date); prediction is the forward return over `horizon` days.
CREATE TABLE IF NOT EXISTS forecasts (
    ticker VARCHAR NOT NULL, date DATE NOT NULL, horizon INTEGER NOT NULL, model VARCHAR NOT NULL,
    prediction DOUBLE NOT NULL, lower DOUBLE, upper DOUBLE, model_id VARCHAR NOT NULL,
    PRIMARY KEY (ticker, date, horizon, model)
);
