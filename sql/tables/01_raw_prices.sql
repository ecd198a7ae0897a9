-- As each source delivered it: one table per source, same columns.
CREATE TABLE IF NOT EXISTS raw_prices_sample (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
    ingested_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS raw_prices_csv (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
    ingested_at TIMESTAMP
);
