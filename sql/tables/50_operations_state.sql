-- Operational flags written by the decay sensor and read by the allocations asset (one row per flag).
-- flag 'emergency': active = allocations go entirely to the safe sleeve; reason says why.
CREATE TABLE IF NOT EXISTS operations_state (
    flag VARCHAR PRIMARY KEY, active BOOLEAN NOT NULL, reason VARCHAR NOT NULL,
    evidence_date DATE, updated_at TIMESTAMP NOT NULL
);
-- Every decay-sensor evaluation: rolling out-of-sample skill of the live ensemble forecasts.
-- evidence_date: the newest as-of date whose target is realized; action: none | retrain | emergency | recovered.
CREATE TABLE IF NOT EXISTS forecast_skill (
    evidence_date DATE NOT NULL, horizon INTEGER NOT NULL, window_days INTEGER NOT NULL,
    observations INTEGER NOT NULL, directional_accuracy DOUBLE, base_rate DOUBLE, ic DOUBLE,
    action VARCHAR NOT NULL, evaluated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (evidence_date, horizon)
);
