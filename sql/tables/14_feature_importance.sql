-- Feature importance per model version: `gain` from the model itself (trees: total split gain;
-- linear: |standardized coefficient|; NULL for the TCN) and `permutation`: the rise of the validation
-- window's MSE when the feature is shuffled (seeded).
CREATE TABLE IF NOT EXISTS feature_importance (
    model_id VARCHAR NOT NULL, model_type VARCHAR NOT NULL, horizon INTEGER NOT NULL, valid_from DATE NOT NULL,
    feature VARCHAR NOT NULL, gain DOUBLE, permutation DOUBLE,
    PRIMARY KEY (model_id, feature)
);
