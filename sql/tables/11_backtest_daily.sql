-- Row `date` holds the return earned over that trading day by the weights decided at the previous close.
-- cost = linear_cost (commission + half-spread) + impact_cost (square-root impact; 0 where not estimable).
CREATE TABLE IF NOT EXISTS backtest_daily (
    date DATE NOT NULL, strategy VARCHAR NOT NULL,
    gross_return DOUBLE NOT NULL, net_return DOUBLE NOT NULL,
    turnover DOUBLE NOT NULL, cost DOUBLE NOT NULL, equity DOUBLE NOT NULL,
    linear_cost DOUBLE, impact_cost DOUBLE,
    PRIMARY KEY (date, strategy)
);
