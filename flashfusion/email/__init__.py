"""Outgoing email: a pluggable sender and the messages FlashFusion sends."""
