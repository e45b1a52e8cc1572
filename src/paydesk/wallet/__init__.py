"""Wallets on the ledger: user money, virtual currency (paid and gifted), points, prepaid
cards, sub-accounts and merchant wallets. See ``docs/wallets.md``."""
