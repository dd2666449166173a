"""Invitations to join a workspace, by email, with expiring single-use links."""
