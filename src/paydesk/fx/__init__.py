"""Exchange rates and currency conversion (docs/fx.md)."""
