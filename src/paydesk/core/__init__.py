"""Money, currencies, ids, clock, errors and settings: what every module stands on."""
