"""Memberships of users in organizations, with roles."""
