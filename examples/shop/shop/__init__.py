"""The shop example: one pipeline, run against DuckDB or PostgreSQL as the profile says."""
