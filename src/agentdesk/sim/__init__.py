"""Simulated customers speaking the real protocol (demo and load tests)."""
