"""Signed, expiring URLs at which platforms fetch a render's files (print files, mockups)."""
