"""axis-licensing."""
