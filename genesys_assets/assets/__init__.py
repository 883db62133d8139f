"""Thin Dagster assets: each reads its inputs, calls a pure function, and returns data with metadata."""
