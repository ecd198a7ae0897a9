-- Target weights decided at the close of `date`; per date they sum to 1, safe sleeve included.
-- sleeve: risky | safe. reasons: comma-separated codes (capped, below_confidence, not_persistent,
-- kelly_limited, turnover_limited, regime_derisk, vol_derisk, drawdown_derisk, emergency, rule_based,
-- no_candidates, long_duration, short_duration, bond_unavailable); the cash row carries the date's codes.
-- Zero-weight rows explain an exclusion. policy_weight: the scheduled target before the daily controls.
CREATE TABLE IF NOT EXISTS allocations (
    date DATE NOT NULL, ticker VARCHAR NOT NULL, weight DOUBLE NOT NULL, sleeve VARCHAR NOT NULL,
    reasons VARCHAR NOT NULL DEFAULT '', policy_weight DOUBLE,
    PRIMARY KEY (date, ticker)
);
