"""Local simulators of external payment channels, speaking their real protocols (sandbox)."""
