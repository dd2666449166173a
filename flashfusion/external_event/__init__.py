"""Inbound platform webhooks: verified on the raw body, stored once per platform event id,
acknowledged at once, processed by the `webhooks.process_event` job."""
