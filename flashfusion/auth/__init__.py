"""Who is calling: browser sessions and API keys."""
