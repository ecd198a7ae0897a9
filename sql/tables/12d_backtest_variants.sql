-- The strategy variants tried (same allocations reshaped), the population of PBO and the deflated Sharpe.
CREATE TABLE IF NOT EXISTS backtest_variants (
    variant VARCHAR PRIMARY KEY, top_k INTEGER NOT NULL, weighting VARCHAR NOT NULL, rebalance VARCHAR NOT NULL,
    annual_return DOUBLE, sharpe DOUBLE, max_drawdown DOUBLE
);
