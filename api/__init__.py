"""The REST API (/api/v1/) and the webhooks: keys, resources, safe retries, signed events."""
