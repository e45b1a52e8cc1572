"""Feature flags for gray release: a feature on for everyone, or first for a whitelist of
merchants or users (docs/features.md)."""
