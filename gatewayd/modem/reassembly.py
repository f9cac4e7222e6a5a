"""Reassembly of concatenated SMS-DELIVER parts into whole messages.

Parts arrive in any order, sometimes twice (a modem re-reporting +CMTI after a reset), sometimes never
(the network lost one). Groups are keyed by (caller key, sender, reference, total, reference width) so
two modems, two senders, or an 8-bit and a 16-bit reference with the same number never mix. A group
that stays incomplete past ``max_age`` is handed back by ``expire`` with the parts it has, so the text
is kept rather than silently lost. A part identical to one of a message completed within ``max_age``
is a re-delivery and is dropped, so the message is not stored twice; a *different* part with the same
reference (8-bit references wrap) starts a new group. Not thread-safe: one owner (the receive loop) drives it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gatewayd.modem.pdu import SmsDeliver, join_ucs2_parts

LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_AGE = timedelta(hours=24)
"""How long an incomplete group waits for its missing parts (SMSCs retry for about a day)."""

GroupKey = tuple[str, str, int, int, int]


@dataclass(frozen=True)
class ReceivedMessage:
    sender: str
    text: str
    timestamp: datetime  # of the first part
    parts: tuple[SmsDeliver, ...]
    complete: bool


@dataclass
class _Group:
    first_seen: datetime
    parts: dict[int, SmsDeliver] = field(default_factory=dict)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _join(parts: tuple[SmsDeliver, ...]) -> str:
    # UCS2 parts are joined as bytes first: senders may split a surrogate pair across two parts.
    if parts and all(p.encoding == "ucs2" and not p.compressed for p in parts):
        return join_ucs2_parts([p.data for p in parts])
    return "".join(p.text for p in parts)


def _message(parts: tuple[SmsDeliver, ...], complete: bool) -> ReceivedMessage:
    return ReceivedMessage(
        sender=parts[0].sender,
        text=_join(parts),
        timestamp=parts[0].timestamp,
        parts=parts,
        complete=complete,
    )


class Reassembler:
    """Collects parts until a message is whole; see the module docstring for the rules."""

    def __init__(
        self, *, max_age: timedelta = DEFAULT_MAX_AGE, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        self._groups: dict[GroupKey, _Group] = {}
        self._completed: dict[GroupKey, tuple[datetime, dict[int, bytes]]] = {}

    def add(self, part: SmsDeliver, key: str = "") -> ReceivedMessage | None:
        """Add one part; returns the whole message when this part completes it, else None."""
        concat = part.concat
        if concat is None or concat.total == 1:
            return _message((part,), complete=True)
        group_key: GroupKey = (key, part.sender, concat.reference, concat.total, concat.bits)
        group = self._groups.get(group_key)
        done = self._completed.get(group_key)
        if group is None and done is not None and done[1].get(concat.sequence) == part.data:
            LOGGER.debug("%s: part %d/%d (ref %d) from %s re-delivered after completion, ignored",
                         key, concat.sequence, concat.total, concat.reference, part.sender)
            return None
        if group is None:
            group = self._groups[group_key] = _Group(first_seen=self._clock())
        if concat.sequence in group.parts:
            LOGGER.debug("%s: duplicate part %d/%d (ref %d) from %s ignored",
                         key, concat.sequence, concat.total, concat.reference, part.sender)
            return None
        group.parts[concat.sequence] = part
        if len(group.parts) < concat.total:
            return None
        del self._groups[group_key]
        self._completed[group_key] = (self._clock(), {seq: p.data for seq, p in group.parts.items()})
        ordered = tuple(group.parts[seq] for seq in sorted(group.parts))
        return _message(ordered, complete=True)

    def expire(self) -> list[ReceivedMessage]:
        """Hand back (and forget) incomplete groups older than ``max_age``, their parts in order."""
        cutoff = self._clock() - self._max_age
        for group_key in [k for k, (when, _) in self._completed.items() if when < cutoff]:
            del self._completed[group_key]
        expired: list[ReceivedMessage] = []
        for group_key in [k for k, g in self._groups.items() if g.first_seen < cutoff]:
            group = self._groups.pop(group_key)
            ordered = tuple(group.parts[seq] for seq in sorted(group.parts))
            LOGGER.info("%s: message from %s (ref %d) expired with %d of %d parts",
                        group_key[0], group_key[1], group_key[2], len(ordered), group_key[3])
            expired.append(_message(ordered, complete=False))
        return expired

    def flush(self) -> list[ReceivedMessage]:
        """Hand back (and forget) every incomplete group now, whatever its age.

        For one-shot readers such as ``gatewayd modem inbox``: at the end of a listing, what is still
        incomplete is shown as such rather than silently dropped.
        """
        flushed = [
            _message(tuple(group.parts[seq] for seq in sorted(group.parts)), complete=False)
            for group in self._groups.values()
        ]
        self._groups.clear()
        return flushed

    def pending(self) -> int:
        """Number of incomplete groups waiting for parts."""
        return len(self._groups)
