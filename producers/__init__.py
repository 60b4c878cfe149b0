"""Thin ingestion: validate, then publish with confirms (Python API, CLI loaders)."""
