"""Integrations with other tools: the pytest plugin (and, with its extra, Dagster)."""
