"""Printful connector (v1 sync products and orders, v2 mockup tasks and signed webhooks)."""

from flashfusion.connector.platforms.printful.connector import PrintfulConnector

__all__ = ["PrintfulConnector"]
