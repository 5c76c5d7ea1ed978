"""Orchestration shells: the batch job (and later the Dagster definitions)."""
