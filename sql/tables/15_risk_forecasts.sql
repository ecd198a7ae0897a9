-- Made at the close of `date`: the standard deviation of the return over the next `horizon` sessions
-- (not annualized), per name and for the equal-weight universe (ticker '_universe'). model: ewma
-- (RiskMetrics 0.94), har (Corsi), an ML family (log_linear, lightgbm) and `chosen`, the one the strategy
-- uses: the lowest QLIKE on the inner (calibration) window of the latest retrain date <= `date`.
CREATE TABLE IF NOT EXISTS risk_forecasts (
    ticker VARCHAR NOT NULL, date DATE NOT NULL, horizon INTEGER NOT NULL, model VARCHAR NOT NULL,
    volatility DOUBLE NOT NULL, valid_from DATE NOT NULL,
    PRIMARY KEY (ticker, date, horizon, model)
);
