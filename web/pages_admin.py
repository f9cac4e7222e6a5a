"""Webhook deliveries that fail, and the effective settings (read-only, secrets masked).

The settings page is for "what is this gateway actually running with?" without a shell. It shows the
configuration as loaded, flattened to ``key.path = value`` rows (the names config errors use), with
every secret replaced: a SIM PIN, token hashes, and the password part of any URL.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from flask import render_template

from web.pages_common import bp, page_setup
from web.present import iso
from web.services import services

LOGGER = logging.getLogger(__name__)

FAILING_SHOWN: Final = 50
MASK: Final = "•••• (set)"
SECRET_KEYS: Final = frozenset({"pin", "token_sha256", "metrics_token_sha256", "secret", "password"})
"""Keys whose values are never shown. File paths (pin_file, secret_key_file) are shown: where a secret
lives is what an operator needs to know, and the page never reads the file."""
URL_CREDENTIALS: Final = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]*)@", re.IGNORECASE)


@bp.get("/webhooks")
def webhooks() -> str:
    queue = services().queue
    failing = queue.failing_webhooks(limit=FAILING_SHOWN)
    return render_template("webhooks.html", counts=queue.webhook_counts(), failing=failing,
                           endpoint=mask_url, iso=iso)


@bp.get("/settings")
def settings() -> str:
    return render_template("settings.html", rows=list(flatten(masked(page_setup().settings))))


def mask_url(text: str) -> str:
    """``https://user:secret@host/x`` -> ``https://user:••••@host/x``; other text unchanged."""
    def hide(match: re.Match[str]) -> str:
        user = match.group("userinfo").split(":", 1)[0]
        return f"{match.group('scheme')}{user}:••••@"

    return URL_CREDENTIALS.sub(hide, text)


def masked(value: Any, key: str = "") -> Any:
    """``value`` with every secret replaced by ``MASK`` (None stays None: "not set" is not a secret)."""
    if key in SECRET_KEYS:
        return None if value is None else MASK
    if isinstance(value, Mapping):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(item, key) for item in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(key.path, shown value)`` rows, in the configuration's own naming (``modems[0].port``)."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, "null" if value is None else value if isinstance(value, str) else json.dumps(value)
