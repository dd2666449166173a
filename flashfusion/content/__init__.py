"""Listing content: copy per platform and language, rules, SEO, brand voice, batches."""
