-- Decided at the close of `date` from data dated <= date. expected_return: forward return over
-- strategy.signal_horizon days; confidence: probability of its sign; position_size: fractional
-- multi-asset Kelly weight (signed, before caps); source: ml (ensemble forecast) | rule_based (momentum).
CREATE TABLE IF NOT EXISTS signals (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    expected_return DOUBLE NOT NULL, confidence DOUBLE NOT NULL, position_size DOUBLE NOT NULL,
    source VARCHAR NOT NULL DEFAULT 'ml',
    PRIMARY KEY (ticker, date)
);
