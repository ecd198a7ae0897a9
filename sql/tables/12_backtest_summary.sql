CREATE TABLE IF NOT EXISTS backtest_summary (
    strategy VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE,
    PRIMARY KEY (strategy, metric)
);
