"""Helpers shared by the test suites (service discovery, databases)."""
