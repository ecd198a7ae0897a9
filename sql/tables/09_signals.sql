CREATE TABLE IF NOT EXISTS signals (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    expected_return DOUBLE NOT NULL, confidence DOUBLE NOT NULL, position_size DOUBLE NOT NULL,
    PRIMARY KEY (ticker, date)
);
