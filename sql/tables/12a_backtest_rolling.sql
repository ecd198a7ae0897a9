-- Trailing-window metrics per return day (NULL until the window is full) and the underwater curve.
CREATE TABLE IF NOT EXISTS backtest_rolling (
    date DATE NOT NULL, strategy VARCHAR NOT NULL, window_days INTEGER NOT NULL,
    rolling_return DOUBLE, rolling_volatility DOUBLE, rolling_sharpe DOUBLE, drawdown DOUBLE NOT NULL,
    PRIMARY KEY (date, strategy)
);
