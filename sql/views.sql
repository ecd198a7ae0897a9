-- Analyst views over the contract tables.
CREATE OR REPLACE VIEW latest_allocations AS
    SELECT * FROM allocations WHERE date = (SELECT max(date) FROM allocations);
CREATE OR REPLACE VIEW ensemble_forecasts AS
    SELECT * FROM forecasts WHERE model = 'ensemble';
CREATE OR REPLACE VIEW paper_latest_positions AS
    SELECT * FROM paper_positions WHERE date = (SELECT max(date) FROM paper_positions);
-- The ledger next to its shadow (the backtest's ml_barbell) and the index, with the tracking difference.
CREATE OR REPLACE VIEW paper_tracking AS
    SELECT date, nav_usd, daily_return, backtest_return, benchmark_return,
           daily_return - backtest_return AS tracking_difference
    FROM paper_account ORDER BY date;
-- The operations state in force at d: the row of its key with effective_from <= d < effective_to.
CREATE OR REPLACE VIEW operations_state AS
    SELECT key, active, effective_from,
           lead(effective_from) OVER (PARTITION BY key ORDER BY effective_from, set_at) AS effective_to,
           reason, evidence_date, set_at
    FROM operations_state_log;
