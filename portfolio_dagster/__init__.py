"""Portfolio Maximizer: an orchestrated ML portfolio platform on Dagster and DuckDB."""
