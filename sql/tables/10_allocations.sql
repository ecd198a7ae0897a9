-- Target weights decided at the close of `date`; per date they sum to 1, safe sleeve included.
CREATE TABLE IF NOT EXISTS allocations (
    date DATE NOT NULL, ticker VARCHAR NOT NULL, weight DOUBLE NOT NULL, sleeve VARCHAR NOT NULL,
    reasons VARCHAR NOT NULL DEFAULT '',
    PRIMARY KEY (date, ticker)
);
