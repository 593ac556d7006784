"""The statuses a subscriber and a delivery can be in (the ``status`` columns' vocabulary)."""

from __future__ import annotations

SUBSCRIBER_STATUSES = ("pending", "active", "paused", "unsubscribed", "bounced", "complained")
DELIVERY_STATUSES = ("pending", "sending", "sent", "deferred", "failed", "missed", "in_doubt")
