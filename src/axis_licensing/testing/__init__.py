"""Test helpers for axis-licensing users: hypothesis strategies, a ledger model and machine."""
