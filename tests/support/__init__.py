"""Helpers shared by tests: job handlers, a worker entry point, database fixtures' data."""
