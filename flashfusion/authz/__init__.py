"""What the caller may do: roles, permissions, scopes and tenancy."""
