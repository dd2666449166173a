"""User accounts: sign-up, email verification, passwords, 2FA."""
