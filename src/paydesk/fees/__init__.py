"""The fee billing centre's pure core: fee models as calculators that explain their results
(``fee_models``), the matching of billing rule entries and agreements to a transaction
(``matching``), and refund policies (``refunds``). No database and no web framework: plain
values in, plain values out, so every rule is table-tested and services call it later.
See docs/fees.md.
"""
