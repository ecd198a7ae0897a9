-- Consolidated, validated prices: unique (ticker, date), adjusted for splits and dividends.
CREATE TABLE IF NOT EXISTS prices (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE NOT NULL, volume DOUBLE,
    source VARCHAR NOT NULL,
    PRIMARY KEY (ticker, date)
);
