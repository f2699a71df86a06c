"""Inbound partner webhooks: signature, durable inbox, translation, idempotent application."""
