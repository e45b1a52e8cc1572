"""Stored responses of mutating API requests, keyed by the caller's Idempotency-Key."""
