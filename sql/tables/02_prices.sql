-- Consolidated, validated prices: unique (ticker, date), adjusted for splits and dividends.
-- source: the first source in data.sources with a valid row; n_sources: sources with a valid row;
-- disagreement: (max - min) / chosen close across those sources (NULL with one source).
CREATE TABLE IF NOT EXISTS prices (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE NOT NULL, volume DOUBLE,
    source VARCHAR NOT NULL, n_sources INTEGER, disagreement DOUBLE,
    PRIMARY KEY (ticker, date)
);
-- Warehouses created before these columns existed get them on the next write connect.
ALTER TABLE prices ADD COLUMN IF NOT EXISTS n_sources INTEGER;
ALTER TABLE prices ADD COLUMN IF NOT EXISTS disagreement DOUBLE;
