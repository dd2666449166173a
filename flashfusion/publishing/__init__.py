"""Publishing: channel listings, the publish ledger and the workflow that publishes exactly once."""
