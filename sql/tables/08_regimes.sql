-- Market regime as known at the close of `date`: the forward-filtered state of a 4-state GaussianHMM
-- on equal-weight market features, refitted on the walk-forward schedule with data before each refit.
-- state: calm | normal | volatile | crisis (ordered by the state's mean volatility);
-- probabilities is JSON {state: probability}.
CREATE TABLE IF NOT EXISTS regimes (
    date DATE PRIMARY KEY, state VARCHAR NOT NULL, probabilities VARCHAR NOT NULL
);
