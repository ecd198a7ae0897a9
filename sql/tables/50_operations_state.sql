-- The operations state's history, append-only: each change of a key is a new row in force from
-- effective_from (the session after the evidence that justified it was realized, evidence_date) until
-- the key's next row; rows are never updated. The view operations_state adds effective_to.
-- key 'emergency': active = allocations go entirely to the safe sleeve; reason says why.
CREATE TABLE IF NOT EXISTS operations_state_log (
    key VARCHAR NOT NULL, active BOOLEAN NOT NULL, effective_from DATE NOT NULL, reason VARCHAR NOT NULL,
    evidence_date DATE, set_at TIMESTAMP NOT NULL
);
-- Every decay-sensor evaluation: rolling out-of-sample skill of the live ensemble forecasts.
-- evidence_date: the newest as-of date whose target is realized; action: none | retrain | emergency | recovered.
CREATE TABLE IF NOT EXISTS forecast_skill (
    evidence_date DATE NOT NULL, horizon INTEGER NOT NULL, window_days INTEGER NOT NULL,
    observations INTEGER NOT NULL, directional_accuracy DOUBLE, base_rate DOUBLE, ic DOUBLE,
    action VARCHAR NOT NULL, evaluated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (evidence_date, horizon)
);
-- as_of: the session at which the evidence was evaluated (its targets were realized by then).
ALTER TABLE forecast_skill ADD COLUMN IF NOT EXISTS as_of DATE;
