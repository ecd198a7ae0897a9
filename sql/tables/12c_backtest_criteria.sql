-- The seed plan's success criteria for ml_barbell: measured value and pass/fail (NULL: not measurable).
CREATE TABLE IF NOT EXISTS backtest_criteria (
    criterion VARCHAR PRIMARY KEY, target VARCHAR NOT NULL, measured DOUBLE, passed BOOLEAN,
    detail VARCHAR NOT NULL
);
