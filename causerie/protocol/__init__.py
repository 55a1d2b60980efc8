"""Pydantic models for what crosses the HTTP boundary (OpenAI's shapes)."""
