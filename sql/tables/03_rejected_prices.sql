-- Rows that failed validation, with their raw values and the reason.
CREATE TABLE IF NOT EXISTS rejected_prices (
    ticker VARCHAR, date DATE NOT NULL, source VARCHAR NOT NULL, reason VARCHAR NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE
);
