"""Fixtures: a fake modem on a real pty or TCP socket, and a started session talking to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatewayd.modem import session as session_module
from gatewayd.modem.session import AtSession
from gatewayd.modem.transport import open_port
from tests.session.fake_modem import FakeModem, Link, PtyLink, TcpLink


@pytest.fixture(autouse=True)
def fast_resync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resync timings scaled down so that the suite stays fast; the logic is the same."""
    monkeypatch.setattr(session_module, "RESYNC_QUIET", 0.05)
    monkeypatch.setattr(session_module, "RESYNC_AT_TIMEOUT", 0.3)
    monkeypatch.setattr(session_module, "RESYNC_DRAIN_MAX", 1.0)


@pytest.fixture(params=["pty", "tcp"])
def link(request: pytest.FixtureRequest) -> Link:
    return PtyLink() if request.param == "pty" else TcpLink()


@pytest.fixture
def pty_link() -> Link:
    return PtyLink()


def _modem(link: Link) -> Iterator[FakeModem]:
    modem = FakeModem(link).start()
    yield modem
    modem.close()


def _session(modem: FakeModem) -> Iterator[AtSession]:
    session = AtSession(open_port(modem.link.url), modem_id="test")
    session.start()
    yield session
    session.close()


@pytest.fixture
def modem(link: Link) -> Iterator[FakeModem]:
    """A fake modem, once over a pty and once over TCP."""
    yield from _modem(link)


@pytest.fixture
def session(modem: FakeModem) -> Iterator[AtSession]:
    yield from _session(modem)


@pytest.fixture
def pty_modem(pty_link: Link) -> Iterator[FakeModem]:
    """A fake modem over a pty only (for tests whose subject is not the transport)."""
    yield from _modem(pty_link)


@pytest.fixture
def pty_session(pty_modem: FakeModem) -> Iterator[AtSession]:
    yield from _session(pty_modem)
