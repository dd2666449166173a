"""Printify connector: Printify Public API v1 (shops, catalog, uploads, products and the publish
handshake, orders, webhooks). See connector.py."""
