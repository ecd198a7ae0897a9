-- Forward-looking from `date`; NULL where the horizon runs past the data.
CREATE TABLE IF NOT EXISTS targets (
    ticker VARCHAR NOT NULL, date DATE NOT NULL,
    return_1d DOUBLE, return_5d DOUBLE, return_21d DOUBLE, return_63d DOUBLE,
    PRIMARY KEY (ticker, date)
);
