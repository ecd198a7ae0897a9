-- Performance by the regime state known at the close before each return day.
CREATE TABLE IF NOT EXISTS backtest_regimes (
    strategy VARCHAR NOT NULL, state VARCHAR NOT NULL, days INTEGER NOT NULL, share_of_days DOUBLE NOT NULL,
    annual_return DOUBLE, annual_volatility DOUBLE, sharpe DOUBLE, hit_rate DOUBLE,
    PRIMARY KEY (strategy, state)
);
