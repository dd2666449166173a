"""Organization API keys: `ffk_` tokens, shown once, stored as HMAC hashes, scoped."""
