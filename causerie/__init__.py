"""Causerie: a self-hosted, multilingual conversational assistant."""

__version__ = "0.1.0"
