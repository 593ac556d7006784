"""Counts in words for what people read: ``1 topic``, ``3 topics``."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``counted(1, "topic")`` → ``"1 topic"``; ``counted(3, "topic")`` → ``"3 topics"``."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
