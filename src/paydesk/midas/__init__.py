"""A Midas-compatible virtual currency API (WeChat mini-games) over Paydesk wallets."""
