"""Timeouts, resync, late replies, the prompt transaction under concurrency, and a lost port."""

from __future__ import annotations

import threading
import time

import pytest

from gatewayd.modem.errors import AtTimeoutError, CmsError, SessionClosedError
from gatewayd.modem.session import AtSession
from tests.session.fake_modem import OK, FakeModem
from tests.session.test_session import PDU, Recorder, strays_of

CSQ = b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"


def withhold_then_release_on(trigger: str, late: bytes, modem: FakeModem) -> None:
    """The modem keeps its answer to the send and emits it just before answering ``trigger``."""
    owed: list[bytes] = []
    modem.payload_reply = lambda m, _: owed.append(late)
    normal = modem.replies.get(trigger, OK)
    assert isinstance(normal, bytes)

    def late_first(m: FakeModem, _: str) -> None:
        while owed:
            m.send(owed.pop())
        m.send(normal)

    modem.on(trigger, late_first)


def test_late_cmgs_during_resync_goes_to_stray_and_next_command_gets_its_answer(
        session: AtSession, modem: FakeModem) -> None:
    strays = strays_of(session)
    modem.on("AT+CSQ", CSQ)
    withhold_then_release_on("AT", b"\r\n+CMGS: 7\r\n\r\nOK\r\n", modem)
    with pytest.raises(AtTimeoutError) as caught:
        session.command_with_prompt("AT+CMGS=23", PDU, timeout=0.3)
    assert caught.value.command == "AT+CMGS=23"
    assert strays.wait_for(lambda items: ("+CMGS: 7", "AT+CMGS=23") in items)
    assert session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
    assert not session.out_of_sync
    assert modem.received == ["AT+CMGS=23", f"PAYLOAD:{PDU}", "AT", "AT+CSQ"]
    stats = session.stats
    assert (stats.timeouts, stats.resyncs) == (1, 1)
    assert session.last_timed_out_command == "AT+CMGS=23"


def test_late_cmgs_inside_the_next_command_is_not_its_answer(session: AtSession, modem: FakeModem) -> None:
    strays = strays_of(session)
    modem.on("AT+CSQ", CSQ)
    withhold_then_release_on("AT+CSQ", b"\r\n+CMGS: 8\r\n\r\nOK\r\n", modem)
    with pytest.raises(AtTimeoutError):
        session.command_with_prompt("AT+CMGS=23", PDU, timeout=0.3)
    # Resync saw a quiet line and an OK; the late answer comes out only when AT+CSQ is sent.
    response = session.command("AT+CSQ")
    assert response.lines == ["+CSQ: 20,99"]
    late = [("+CMGS: 8", "AT+CMGS=23"), ("OK", "AT+CMGS=23")]
    assert strays.wait_for(lambda items: all(item in items for item in late))


def test_late_plain_reply_never_answers_the_next_command(pty_session: AtSession,
                                                         pty_modem: FakeModem) -> None:
    strays = strays_of(pty_session)
    pty_modem.on("AT+CSQ", CSQ)
    owed: list[bytes] = []
    pty_modem.on("AT+COPS?", lambda m, _: owed.append(b'\r\n+COPS: 0,0,"Late"\r\n\r\nOK\r\n'))

    def late_first(m: FakeModem, _: str) -> None:
        while owed:
            m.send(owed.pop())
        m.send(OK)

    pty_modem.on("AT", late_first)
    with pytest.raises(AtTimeoutError) as caught:
        pty_session.command("AT+COPS?", timeout=0.2)
    assert caught.value.partial == []
    assert pty_session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
    assert ('+COPS: 0,0,"Late"', "AT+COPS?") in strays.items


def test_partial_lines_travel_with_the_timeout(pty_session: AtSession, pty_modem: FakeModem) -> None:
    pty_modem.on("AT+CMGL=4", b"\r\n+CMGL: 1,1,,23\r\n" + PDU.encode() + b"\r\n")
    with pytest.raises(AtTimeoutError) as caught:
        pty_session.command("AT+CMGL=4", timeout=0.2)
    assert caught.value.partial == ["+CMGL: 1,1,,23", PDU]


def test_prompt_never_arrives(session: AtSession, modem: FakeModem) -> None:
    modem.on("AT+CMGS=23", b"")
    called: list[bool] = []
    started = time.monotonic()
    with pytest.raises(AtTimeoutError) as caught:
        session.command_with_prompt("AT+CMGS=23", PDU, prompt_timeout=0.2,
                                    on_prompt=lambda: called.append(True))
    assert time.monotonic() - started < 2
    assert caught.value.timeout == 0.2
    assert called == []
    assert modem.received[:3] == ["AT+CMGS=23", "ESC", "AT"]
    assert not session.out_of_sync
    assert session.command("AT").final == "OK"


def test_on_prompt_failure_sends_esc_and_no_pdu(session: AtSession, modem: FakeModem) -> None:
    strays = strays_of(session)

    def refuse() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        session.command_with_prompt("AT+CMGS=23", PDU, on_prompt=refuse)
    assert modem.wait_received("ESC")
    assert modem.received == ["AT+CMGS=23", "ESC"]
    assert strays.wait_for(lambda items: len(items) == 1)  # the modem's OK after ESC
    assert session.command("AT").final == "OK"
    assert f"PAYLOAD:{PDU}" not in modem.received


def test_on_prompt_runs_between_prompt_and_pdu(session: AtSession, modem: FakeModem) -> None:
    seen_at_prompt: list[list[str]] = []
    session.command_with_prompt("AT+CMGS=23", PDU,
                                on_prompt=lambda: seen_at_prompt.append(list(modem.received)))
    assert seen_at_prompt == [["AT+CMGS=23"]]
    assert modem.received == ["AT+CMGS=23", f"PAYLOAD:{PDU}"]


def test_dead_modem_fails_resync_and_keeps_failing(pty_session: AtSession, pty_modem: FakeModem) -> None:
    pty_modem.replies.clear()
    pty_modem.on("AT", b"")
    pty_modem.on("AT+CSQ", b"")
    with pytest.raises(AtTimeoutError):
        pty_session.command("AT+CSQ", timeout=0.1)
    assert pty_session.out_of_sync
    with pytest.raises(AtTimeoutError) as caught:
        pty_session.command("AT+CSQ")
    assert caught.value.command == "AT (resync)"
    assert pty_modem.received.count("AT+CSQ") == 1


def test_prompt_transactions_never_interleave(session: AtSession, modem: FakeModem) -> None:
    modem.prompt_delay = 0.01
    modem.on("AT+CSQ", CSQ)
    results: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        try:
            for _ in range(n):
                response = session.command_with_prompt("AT+CMGS=23", PDU)
                with lock:
                    results.extend(response.lines)
        except BaseException as exc:
            failures.append(exc)

    def poller(n: int) -> None:
        try:
            for _ in range(n):
                assert session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=sender, args=(8,)) for _ in range(2)]
    threads += [threading.Thread(target=poller, args=(8,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert modem.violations == []
    assert sorted(results, key=lambda line: int(line.split()[1])) == [f"+CMGS: {n}" for n in range(1, 17)]
    for index, item in enumerate(modem.received):
        if item == "AT+CMGS=23":
            assert modem.received[index + 1] == f"PAYLOAD:{PDU}"
    assert len(modem.received) == 48


def test_port_lost_mid_command(session: AtSession, modem: FakeModem) -> None:
    closes = Recorder()
    session.add_close_listener(closes)
    modem.on("AT+CSQ", lambda m, _: m.hang_up())
    started = time.monotonic()
    with pytest.raises(SessionClosedError):
        session.command("AT+CSQ", timeout=10)
    assert time.monotonic() - started < 2
    assert closes.wait_for(lambda items: len(items) == 1)
    assert isinstance(closes.items[0], Exception)
    assert session.closed
    with pytest.raises(SessionClosedError):
        session.command("AT")
    session.close()
    assert len(closes.items) == 1


def test_port_lost_at_the_prompt(pty_session: AtSession, pty_modem: FakeModem) -> None:
    def hang_up_instead_of_prompt(m: FakeModem, _: str) -> None:
        m.hang_up()

    pty_modem.on("AT+CMGS=23", hang_up_instead_of_prompt)
    with pytest.raises(SessionClosedError):
        pty_session.command_with_prompt("AT+CMGS=23", PDU, prompt_timeout=10)


def test_modem_leaving_text_entry_during_on_prompt_gets_no_pdu(pty_session: AtSession,
                                                                pty_modem: FakeModem) -> None:
    def prompt_then_give_up(m: FakeModem, _: str) -> None:
        m.send(b"\r\n> ")
        m.send(b"\r\n+CMS ERROR: 500\r\n")

    pty_modem.on("AT+CMGS=23", prompt_then_give_up)
    error_seen = threading.Event()
    pty_session.add_line_listener(lambda line: error_seen.set() if "CMS ERROR" in line else None)

    def wait_for_the_error() -> None:
        assert error_seen.wait(5)

    with pytest.raises(CmsError):
        pty_session.command_with_prompt("AT+CMGS=23", PDU, on_prompt=wait_for_the_error)
    assert pty_session.command("AT").final == "OK"
    assert pty_modem.received == ["AT+CMGS=23", "AT"]


def test_a_modem_left_in_text_entry_by_a_crashed_host_is_brought_back_with_esc(
        session: AtSession, modem: FakeModem) -> None:
    """A previous owner died between ``> `` and the PDU: until ESC, every ``AT`` is message text."""
    modem._in_text_entry = True
    modem.on("AT+CSQ", CSQ)
    with pytest.raises(AtTimeoutError):
        session.command("AT", timeout=0.2)
    assert session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
    assert modem.received[:3] == ["ESC", "AT", "AT+CSQ"]


def test_once_the_modem_has_answered_a_resync_sends_no_esc(session: AtSession, modem: FakeModem) -> None:
    """An ESC after a late +CMGS could abort a send still running at the modem; a known line needs none."""
    modem.on("AT+CSQ", CSQ)
    modem.on("AT+CREG?", b"")
    assert session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
    with pytest.raises(AtTimeoutError):
        session.command("AT+CREG?", timeout=0.2)
    assert "ESC" not in modem.received
    assert modem.received == ["AT+CSQ", "AT+CREG?", "AT"]
