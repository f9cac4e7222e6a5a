"""Remembers PINs a SIM rejected, across restarts.

A daemon under systemd restarts after a failure; if it entered the same wrong PIN at every start it
would lock the SIM (PUK) within three restarts. The guard records a salted hash of each rejected
(modem, PIN) pair in a small file, and the device layer refuses to enter a recorded PIN again. Fixing
the PIN in the configuration changes the hash, so a corrected PIN is tried (once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

LOGGER = logging.getLogger(__name__)

_SALT = b"gatewayd-rejected-pin-v1"


def _fingerprint(modem_key: str, pin: str) -> str:
    return hashlib.sha256(_SALT + modem_key.encode() + b"\0" + pin.encode()).hexdigest()


class RejectedPins:
    """A set of rejected (modem, PIN) fingerprints; in memory when ``path`` is None."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self._seen: set[str] = set()
        if self._path is not None and self._path.exists():
            try:
                self._seen = set(json.loads(self._path.read_text(encoding="utf-8")))
            except (ValueError, TypeError, OSError) as exc:
                LOGGER.warning("rejected-PIN file %s unreadable (%s); treating it as empty", self._path, exc)

    def is_rejected(self, modem_key: str, pin: str) -> bool:
        return _fingerprint(modem_key, pin) in self._seen

    def record(self, modem_key: str, pin: str) -> None:
        self._seen.add(_fingerprint(modem_key, pin))
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(sorted(self._seen)), encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)
