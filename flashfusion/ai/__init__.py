"""AI layer: providers, router with fallback, cost ledger, cache, prompts."""
