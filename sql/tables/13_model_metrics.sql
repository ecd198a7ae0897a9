-- Out-of-sample skill of each model (family or ensemble) per horizon over every forecast whose target
-- is realized: directional accuracy next to the base rate (share of up moves: what "always up"
-- scores), IC (mean daily cross-sectional Pearson correlation), rank IC (the same with Spearman),
-- its Newey-West t-statistic (rank_ic_tstat, lags >= 2 (horizon - 1)), pooled IC, MAE and the empirical coverage of the 10%-90% interval (nominal 0.80).
CREATE TABLE IF NOT EXISTS model_metrics (
    model VARCHAR NOT NULL, horizon INTEGER NOT NULL,
    first_date DATE, last_date DATE, observations BIGINT NOT NULL,
    directional_accuracy DOUBLE, base_rate DOUBLE, ic DOUBLE, rank_ic DOUBLE, rank_ic_tstat DOUBLE, pooled_ic DOUBLE,
    mae DOUBLE, interval_coverage DOUBLE, nominal_coverage DOUBLE,
    PRIMARY KEY (model, horizon)
);
-- Warehouses created before this column existed get it on the next write connect.
ALTER TABLE model_metrics ADD COLUMN IF NOT EXISTS rank_ic_tstat DOUBLE;
-- The risk model's rows (model 'risk_<name>': ewma, har, log_linear, lightgbm, chosen; written by the
-- risk_forecasts stage): out-of-sample QLIKE of the volatility forecast (risk_qlike), EWMA's on the same
-- name-rows (risk_qlike_ewma) and the two-sided Diebold-Mariano p-value against EWMA (risk_dm_pvalue, HAC).
ALTER TABLE model_metrics ADD COLUMN IF NOT EXISTS risk_qlike DOUBLE;
ALTER TABLE model_metrics ADD COLUMN IF NOT EXISTS risk_qlike_ewma DOUBLE;
ALTER TABLE model_metrics ADD COLUMN IF NOT EXISTS risk_dm_pvalue DOUBLE;
