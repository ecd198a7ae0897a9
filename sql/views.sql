-- Analyst views over the contract tables.
CREATE OR REPLACE VIEW latest_allocations AS
    SELECT * FROM allocations WHERE date = (SELECT max(date) FROM allocations);
CREATE OR REPLACE VIEW ensemble_forecasts AS
    SELECT * FROM forecasts WHERE model = 'ensemble';
