"""Webhooks: endpoints of an account, deliveries of its events, signed and retried."""
