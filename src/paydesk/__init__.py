"""Paydesk: a self-hosted billing and payment platform."""

__version__ = "0.1.0"
