-- Every alert raised (portfolio_dagster/resources/alerts.py), appended, never updated. Also sent to the
-- configured sinks (config `alerts`: a JSON-lines file under the data folder, a webhook).
-- kind: run_failed | check_failed | source_failed | feature_drift | decay_retrain_requested |
--       decay_retrain_finished | emergency_on | emergency_off | paper_ledger_unreconciled
-- severity: info | warning | critical. run_id: the Dagster run it is about (NULL outside a run).
-- details: JSON of the facts behind the message; deliveries: JSON, each sink's outcome ("ok", "off",
-- or the error type: never the webhook's URL).
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR PRIMARY KEY,
    "at" TIMESTAMP NOT NULL,        -- UTC ("at" is a keyword in DuckDB: quote it in SQL)
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    run_id VARCHAR,
    details VARCHAR NOT NULL,
    deliveries VARCHAR NOT NULL
);
