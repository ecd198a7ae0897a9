-- Market regime as known at the close of `date`; probabilities is JSON {state: probability}.
CREATE TABLE IF NOT EXISTS regimes (
    date DATE PRIMARY KEY, state VARCHAR NOT NULL, probabilities VARCHAR NOT NULL
);
