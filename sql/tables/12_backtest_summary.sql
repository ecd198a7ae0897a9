-- One value per (strategy, metric): DESIGN.md's metrics plus probabilistic_sharpe, trials, pbo,
-- stress_max_drawdown, cost_drag, and ml_barbell's forecast skill per horizon. NULL: not estimable.
CREATE TABLE IF NOT EXISTS backtest_summary (
    strategy VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE,
    PRIMARY KEY (strategy, metric)
);
