"""The domain: pure functions on frames and arrays. No Dagster, no DuckDB, no I/O."""
