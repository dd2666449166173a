"""Safeguards: trademark screening, policy moderation, IP and claims checks, quality and
plagiarism scores, with blocking and audited overrides."""
