"""Append-only audit log of security-relevant and mutating actions."""
