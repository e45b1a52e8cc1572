"""The fee billing centre. Its pure core: fee models (``fee_models``) and their calculators,
which explain their results (``fee_calculators``), the matching of billing rule entries and
agreements to a transaction (``matching``), refund policies (``refunds``) and the batch pricer
(``batch``). No database and no web framework: plain values in, plain values out, so every
rule is table-tested. The services built on it (``service``, ``events``, ``remitting``,
``reports``, ``endpoints``) store agreements and post fees as journals. See docs/fees.md.
"""
