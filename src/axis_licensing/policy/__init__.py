"""The pure policy core."""
