-- One row per trained model: a family model, or the `ensemble` of one model set (same as-of date,
-- horizon and config). `artifact` is the model's JSON manifest under the model store; the manifest
-- names the native file (LightGBM text, XGBoost UBJ, torch state_dict, npz) and its sha256. Never pickle.
CREATE TABLE IF NOT EXISTS model_registry (
    model_id VARCHAR PRIMARY KEY,
    model_type VARCHAR NOT NULL,    -- lightgbm | xgboost | tcn | lstm | bayesian_ridge | regime_adaptive | ensemble
    horizon INTEGER NOT NULL,
    train_start DATE NOT NULL,
    train_end DATE NOT NULL,        -- last training row's date; its target was realized before valid_from
    valid_from DATE NOT NULL,       -- first as-of date the model may forecast
    trained_at TIMESTAMP NOT NULL,
    config_hash VARCHAR NOT NULL,
    features VARCHAR NOT NULL,      -- JSON list of input feature names
    metrics VARCHAR NOT NULL,       -- JSON: validation-window metrics (ensemble: + weights)
    artifact VARCHAR NOT NULL,
    artifact_sha256 VARCHAR NOT NULL,
    model_set_id VARCHAR,           -- the families and ensemble trained together
    fit_end DATE,                   -- last fit row (purged against the validation window)
    validation_start DATE,          -- validation window (early stopping): validation_start..validation_end
    validation_end DATE,            -- (before these columns existed: validation_start..train_end)
    calibration_start DATE,         -- calibration window (intervals, ensemble weights): ..train_end
    candidate VARCHAR,              -- the configuration candidate (models.candidates; `base`: the section itself)
    selection_hash VARCHAR,         -- the run config whose nested walk-forward choice this set took part in
    selected BOOLEAN                -- chosen for its period (valid_from to the next retrain) on inner windows
);
-- Warehouses created before these columns existed get them on the next write connect.
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS model_set_id VARCHAR;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS fit_end DATE;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS validation_start DATE;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS validation_end DATE;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS calibration_start DATE;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS candidate VARCHAR;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS selection_hash VARCHAR;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS selected BOOLEAN;
-- trigger: schedule (the retrain calendar) | decay (the decay sensor) | drift (the drift sensor); reason: why.
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS trigger VARCHAR;
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS reason VARCHAR;
