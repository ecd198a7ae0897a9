-- Corporate actions as data, each effective at the open of `date` (the ex-date): kind split (ratio: new
-- shares per old share), dividend (amount: cash per share held at the prior close) or restatement (a
-- source's stored history found re-based: ratio new/old price). source: the source that delivered it.
-- recorded_at: when a run first learned it (point in time: the ledger applies only what is known).
CREATE TABLE IF NOT EXISTS corporate_actions (
    ticker VARCHAR NOT NULL, date DATE NOT NULL, kind VARCHAR NOT NULL, ratio DOUBLE, amount DOUBLE,
    source VARCHAR NOT NULL, recorded_at TIMESTAMP,
    PRIMARY KEY (ticker, date, kind, source)
);
-- The paper ledger's adjusting rows: a corporate action applied to the holdings carried into session
-- `date` (never an edit of a booked session). quantity_before/after: shares of `ticker`; cash_usd: cash
-- credited (a dividend).
CREATE TABLE IF NOT EXISTS paper_adjustments (
    date DATE NOT NULL, ticker VARCHAR NOT NULL, kind VARCHAR NOT NULL, ratio DOUBLE, amount DOUBLE,
    quantity_before DOUBLE NOT NULL, quantity_after DOUBLE NOT NULL, cash_usd DOUBLE NOT NULL,
    PRIMARY KEY (date, ticker, kind)
);
