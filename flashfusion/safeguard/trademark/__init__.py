"""Trademark screening: the marks database, its importers and the matcher."""
