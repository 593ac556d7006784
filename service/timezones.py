"""IANA time zone names: the one check that settings and subscribers both use."""

from __future__ import annotations

import zoneinfo

from service.errors import InputError

MAX_TIMEZONE_LENGTH = 64  # the column's width; the longest IANA name has 32 characters


def check_timezone(name: str) -> str:
    """An IANA time zone name as given; InputError for anything else.

    ``zoneinfo`` raises OSError for a tzdata folder (``Europe``) or a name too long for a file
    name: those are unknown names too, not server errors.
    """
    shown = name if len(name) <= 40 else name[:40] + "…"
    try:
        if not name or len(name) > MAX_TIMEZONE_LENGTH:
            raise ValueError(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(
            f"unknown time zone {shown!r} (use an IANA name such as Europe/Berlin)"
        ) from None
    return name
