-- One row per trained model. `artifact` is a path under the model store, in the model's native format.
CREATE TABLE IF NOT EXISTS model_registry (
    model_id VARCHAR PRIMARY KEY,
    model_type VARCHAR NOT NULL,
    horizon INTEGER NOT NULL,
    train_start DATE NOT NULL,
    train_end DATE NOT NULL,        -- last training row's date; its target was realized before valid_from
    valid_from DATE NOT NULL,       -- first as-of date the model may forecast
    trained_at TIMESTAMP NOT NULL,
    config_hash VARCHAR NOT NULL,
    features VARCHAR NOT NULL,      -- JSON list of input feature names
    metrics VARCHAR NOT NULL,       -- JSON
    artifact VARCHAR NOT NULL,
    artifact_sha256 VARCHAR NOT NULL
);
