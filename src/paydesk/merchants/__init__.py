"""Merchants (a hierarchy of any depth), their apps, API keys and virtual currencies."""
