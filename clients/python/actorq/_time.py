"""RFC 3339 timestamps (actorq writes them as 2026-01-02T03:04:05.678Z).

Python 3.9's datetime.fromisoformat accepts neither "Z" nor fractions other
than 3 or 6 digits, so the package parses them itself.
"""

import re
from datetime import datetime, timedelta, timezone
from typing import Optional

__all__ = ["parse_time"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)


def parse_time(value: Optional[str]) -> Optional[datetime]:
    """Parse an RFC 3339 timestamp into a timezone-aware datetime.

    ``Z`` (or ``z``) means UTC; ``+HH:MM`` / ``-HH:MM`` offsets are kept.
    Fractions of any length are cut to microseconds. ``None`` gives ``None``
    (so ``parse_time(task["started_at"])`` works on tasks not started yet).
    Anything else raises ``ValueError``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not an RFC 3339 timestamp: %r" % (value,))
    m = _RFC3339.match(value.strip())
    if not m:
        raise ValueError("not an RFC 3339 timestamp: %r" % (value,))
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    leap = second == 60  # RFC 3339 allows a leap second; datetime does not
    if leap:
        second = 59
    if m.group(8):
        tz = timezone.utc
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError("bad UTC offset in %r" % (value,))
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(-delta if m.group(9) == "-" else delta)
    result = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    if leap:
        result = result.replace(microsecond=999999)
    return result
