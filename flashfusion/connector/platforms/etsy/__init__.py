"""Etsy Open API v3 connector (connector.py); the twin it is tested against is sandbox/etsy.py."""

from flashfusion.connector.platforms.etsy.connector import EtsyConnector

__all__ = ["EtsyConnector"]
