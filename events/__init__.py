"""The outbox of things that happened to an account's lists and campaigns, for webhooks to send."""
