-- The paper-trading ledger (quant/trading.py applied one session at a time). Append-only: a later run
-- or backfill never rewrites a row; only `pmx paper reset [--from DATE]` deletes (from a date on).
-- Orders decided at the close of `date` against the ledger's holdings; they fill on the next session.
-- side: buy | sell; quantity: shares ordered (> 0); reason: initial | scheduled_rebalance |
-- control_change | cap_breach. decision_id ties the order to the run, model sets and config that
-- decided it (see decision_runs).
CREATE TABLE IF NOT EXISTS paper_orders (
    date DATE NOT NULL, ticker VARCHAR NOT NULL, side VARCHAR NOT NULL, quantity DOUBLE NOT NULL,
    reference_price DOUBLE NOT NULL, target_weight DOUBLE NOT NULL, previous_weight DOUBLE NOT NULL,
    reason VARCHAR NOT NULL, decision_id VARCHAR NOT NULL,
    PRIMARY KEY (date, ticker)
);
-- What executed on session `date` for the orders of `order_date`: status filled | partial | rejected;
-- reason: cash_limited (buys scaled down to keep cash >= 0), stale_price (no price that session: the
-- last close), no_price. slippage_bps: adverse move from the order's reference close to the fill price.
CREATE TABLE IF NOT EXISTS paper_fills (
    order_date DATE NOT NULL, date DATE NOT NULL, ticker VARCHAR NOT NULL, side VARCHAR NOT NULL,
    quantity DOUBLE NOT NULL, ordered_quantity DOUBLE NOT NULL, price DOUBLE, commission_usd DOUBLE NOT NULL,
    spread_usd DOUBLE NOT NULL, impact_usd DOUBLE NOT NULL, slippage_bps DOUBLE, status VARCHAR NOT NULL,
    reason VARCHAR NOT NULL DEFAULT '',
    PRIMARY KEY (date, ticker)
);
-- Holdings after the close of `date` (the safe sleeve's instruments too); uninvested cash is in paper_account.
CREATE TABLE IF NOT EXISTS paper_positions (
    date DATE NOT NULL, ticker VARCHAR NOT NULL, quantity DOUBLE NOT NULL, price DOUBLE NOT NULL,
    market_value_usd DOUBLE NOT NULL, weight DOUBLE NOT NULL,
    PRIMARY KEY (date, ticker)
);
-- One row per booked session: nav = cash + positions. daily_return is NULL on the ledger's first
-- session; backtest_return is the backtest's ml_barbell net return the same day (the shadow);
-- benchmark_return the index's. decision_id: the decision taken at this close; controls: the daily
-- controls in force at it (the ledger's own record: a change at the next close trades).
CREATE TABLE IF NOT EXISTS paper_account (
    date DATE PRIMARY KEY, cash_usd DOUBLE NOT NULL, positions_value_usd DOUBLE NOT NULL,
    nav_usd DOUBLE NOT NULL, daily_return DOUBLE, turnover DOUBLE NOT NULL, costs_usd DOUBLE NOT NULL,
    benchmark_return DOUBLE, backtest_return DOUBLE, decision_id VARCHAR NOT NULL, controls VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL, booked_at TIMESTAMP NOT NULL
);
-- The decisions behind paper orders: which run, config and model sets decided at a close.
CREATE TABLE IF NOT EXISTS decision_runs (
    decision_id VARCHAR PRIMARY KEY, date DATE NOT NULL, run_id VARCHAR NOT NULL, config_hash VARCHAR NOT NULL,
    model_ids VARCHAR NOT NULL
);
