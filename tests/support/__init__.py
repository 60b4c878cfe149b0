"""Helpers shared by the tests; the fixtures themselves live in tests/conftest.py."""
