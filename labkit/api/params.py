"""Query parameters as Grafana and students send them, parsed once, with clear 4xx errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import HTTPException

from labkit.contract import from_ms

DEFAULT_WINDOW = timedelta(minutes=15)
MAX_RANGE = timedelta(days=366)


def parse_time(value: str | None, name: str) -> datetime | None:
    """Epoch milliseconds (Grafana's ${__from}) or ISO-8601 ('Z' allowed); naive means UTC."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():
            return from_ms(int(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise HTTPException(422, f"`{name}` must be epoch milliseconds or ISO-8601, not {value!r:.60}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def time_range(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to): both optional (default: the last 15 minutes up to now); 422 when reversed
    or longer than a year."""
    now = now or datetime.now(timezone.utc)
    to = parse_time(end, "to") or now
    frm = parse_time(start, "from") or to - DEFAULT_WINDOW
    if to <= frm:
        raise HTTPException(422, f"`from` ({frm.isoformat()}) must be before `to` ({to.isoformat()})")
    if to - frm > MAX_RANGE:
        raise HTTPException(422, f"the range is {(to - frm).days} days; the limit is {MAX_RANGE.days}")
    return frm, to
