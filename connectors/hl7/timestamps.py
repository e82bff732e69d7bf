"""HL7 DTM timestamps: every precision, with or without a UTC offset.

DTM is YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ] (HL7 v2.8 chapter 2A).
A value with no offset is local time of the sender, which the caller names
(settings.sender_time_zone). An impossible value (month 20, an odd number of
digits) raises InvalidTimestamp instead of being rounded to something valid.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from heals.errors import HealsError

__all__ = ["InvalidTimestamp", "Timestamp", "parse_dtm"]

_DTM = re.compile(
    r"(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?"
    r"(?P<second>\d{2})?(?:\.(?P<fraction>\d{1,4}))?(?P<offset>[+-]\d{4})?"
)

# Precision names, in the order the components appear.
PRECISIONS = ("year", "month", "day", "hour", "minute", "second")


class InvalidTimestamp(HealsError):
    """A DTM value that is not a real point in time."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid HL7 timestamp: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Timestamp:
    """A parsed DTM: the instant, the precision the sender wrote and its offset."""

    value: dt.datetime
    precision: str
    fraction_digits: int
    offset_minutes: int | None

    @property
    def utc(self) -> dt.datetime:
        """The instant in UTC."""
        return self.value.astimezone(dt.timezone.utc)

    def date_text(self) -> str:
        """Return the local date at the written precision: 1962, 1962-03 or 1962-03-20."""
        parts = {"year": "%Y", "month": "%Y-%m"}
        return self.value.strftime(parts.get(self.precision, "%Y-%m-%d"))

    def iso(self) -> str:
        """Return ISO 8601 in the sender's offset, cut to the written precision."""
        if self.precision in ("year", "month", "day"):
            return self.date_text()
        text = self.value.isoformat(timespec="microseconds" if self.fraction_digits else "seconds")
        return text


def parse_dtm(text: str, default_zone: str) -> Timestamp:
    """Parse one DTM value; raise InvalidTimestamp naming what is wrong."""
    # Length is checked first so a fuzzed field cannot cost more than a short match.
    if len(text) > 24:
        raise InvalidTimestamp(f"{len(text)} characters, a DTM has at most 24")
    match = _DTM.fullmatch(text)
    if match is None:
        raise InvalidTimestamp("not of the form YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ]")
    parts = match.groupdict()
    if parts["fraction"] and not parts["second"]:
        raise InvalidTimestamp("a fraction of a second needs seconds")

    precision = "year"
    for name in PRECISIONS:
        if parts[name] is not None:
            precision = name
    fraction = parts["fraction"] or ""
    try:
        naive = dt.datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError as exc:
        raise InvalidTimestamp(str(exc)) from exc

    offset_text = parts["offset"]
    if offset_text is None:
        # NOTE: a local time inside a daylight-saving gap or overlap is read with
        # fold=0 (the earlier instant); HL7 gives no way to tell which was meant.
        value = naive.replace(tzinfo=ZoneInfo(default_zone))
        offset = value.utcoffset()
        offset_minutes = None if offset is None else int(offset.total_seconds() // 60)
        return Timestamp(value, precision, len(fraction), offset_minutes)

    sign = -1 if offset_text[0] == "-" else 1
    hours, minutes = int(offset_text[1:3]), int(offset_text[3:5])
    if hours > 14 or minutes > 59:
        raise InvalidTimestamp(f"UTC offset {offset_text} is out of range")
    offset_minutes = sign * (hours * 60 + minutes)
    value = naive.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    return Timestamp(value, precision, len(fraction), offset_minutes)
