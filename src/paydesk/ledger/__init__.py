"""The double-entry ledger: accounts, journals, entries and holds.

The only code in Paydesk that changes a balance. See ``docs/ledger.md``.
"""
