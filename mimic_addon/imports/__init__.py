"""Seeding the learned model from existing API descriptions (OpenAPI)."""
