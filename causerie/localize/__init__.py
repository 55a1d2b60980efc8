"""Localize: adapt a model to a language from a local corpus (training needs the ``localize`` extra)."""
