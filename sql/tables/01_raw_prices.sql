-- As each source delivered it: one table per source, same columns. delivered_ticker: the symbol the
-- response said it was about, where the provider says (a mismatch is rejected in prices).
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
CREATE TABLE IF NOT EXISTS raw_prices_yfinance (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
    delivered_ticker VARCHAR, ingested_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS raw_prices_alpha_vantage (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
    delivered_ticker VARCHAR, ingested_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS raw_prices_finnhub (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
    delivered_ticker VARCHAR, ingested_at TIMESTAMP
);
