"""AtSession against a scripted fake modem on a real pty (and, where the transport matters, TCP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from gatewayd.modem.errors import (
    AtCommandError,
    CmeError,
    CmsError,
    SessionClosedError,
    UnexpectedResponseError,
)
from gatewayd.modem.result_codes import FINAL_ERRORS
from gatewayd.modem.session import AtResponse, AtSession
from gatewayd.modem.urc import Urc
from tests.session.fake_modem import ERROR, OK, PROMPT, FakeModem

PDU = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
CMT_PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
CDS_PDU = "07911326040000F006F50B911346610089F6208062917314082080629173240800"
WAIT = 5.0


class Recorder:
    """Collects listener calls and lets a test wait for them without sleeping."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._cond = threading.Condition()

    def __call__(self, *args: object) -> None:
        with self._cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[object]], bool], timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.items), timeout)


def urcs_of(session: AtSession) -> Recorder:
    recorder = Recorder()
    session.add_urc_listener(recorder)
    return recorder


def strays_of(session: AtSession) -> Recorder:
    recorder = Recorder()
    session.add_stray_listener(recorder)
    return recorder


# -- results ---------------------------------------------------------------------------------------


def test_information_lines_and_ok(session: AtSession, modem: FakeModem) -> None:
    modem.on("AT+CSQ", b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert session.command("AT+CSQ") == AtResponse("AT+CSQ", ["+CSQ: 20,99"], "OK")


def test_connect_is_a_successful_final(pty_session: AtSession, pty_modem: FakeModem) -> None:
    pty_modem.on("ATD*99#", b"\r\nCONNECT\r\n")
    assert pty_session.command("ATD*99#").final == "CONNECT"


@pytest.mark.parametrize("final", sorted(FINAL_ERRORS))
def test_each_error_final(pty_session: AtSession, pty_modem: FakeModem, final: str) -> None:
    pty_modem.on("AT+X", f"\r\n+X: 1\r\n{final}\r\n".encode())
    with pytest.raises(AtCommandError) as caught:
        pty_session.command("AT+X")
    assert type(caught.value) is AtCommandError
    assert caught.value.final == final
    assert caught.value.lines == ["+X: 1"]


@pytest.mark.parametrize(("final", "code", "meaning"), [
    ("+CME ERROR: 10", 10, "SIM not inserted"),
    ("+CME ERROR: SIM not inserted", 10, "SIM not inserted"),
    ("+CME ERROR: 515", 515, "please wait, init or command processing in progress"),
    ("+CME ERROR: something odd", None, "something odd"),
])
def test_cme_errors(pty_session: AtSession, pty_modem: FakeModem, final: str, code: int | None,
                    meaning: str) -> None:
    pty_modem.on("AT+CPIN?", f"\r\n{final}\r\n".encode())
    with pytest.raises(CmeError) as caught:
        pty_session.command("AT+CPIN?")
    assert (caught.value.code, caught.value.meaning, caught.value.final) == (code, meaning, final)


@pytest.mark.parametrize(("final", "code", "permanent"), [
    ("+CMS ERROR: 30", 30, True),
    ("+CMS ERROR: 500", 500, False),
    ("+CMS ERROR: invalid PDU mode parameter", 304, True),
    ("+CMS ERROR: memory capacity exceeded", None, False),  # ambiguous text (22 and 211): no guess
])
def test_cms_errors(pty_session: AtSession, pty_modem: FakeModem, final: str, code: int | None,
                    permanent: bool) -> None:
    pty_modem.on("AT+CMGD=1", f"\r\n{final}\r\n".encode())
    with pytest.raises(CmsError) as caught:
        pty_session.command("AT+CMGD=1")
    assert (caught.value.code, caught.value.permanent) == (code, permanent)


def test_ext_error_is_a_plain_command_error(pty_session: AtSession, pty_modem: FakeModem) -> None:
    pty_modem.on("AT+X", b"\r\n+EXT ERROR: 5\r\n")
    with pytest.raises(AtCommandError) as caught:
        pty_session.command("AT+X")
    assert caught.value.final == "+EXT ERROR: 5"


def test_echo_is_dropped(session: AtSession, modem: FakeModem) -> None:
    modem.echo = True
    modem.on("AT+CSQ", b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
    assert session.command_with_prompt("AT+CMGS=23", PDU).lines == ["+CMGS: 1"]
    assert modem.received[-2:] == ["AT+CMGS=23", f"PAYLOAD:{PDU}"]


def test_control_characters_in_commands_are_refused(pty_session: AtSession) -> None:
    with pytest.raises(ValueError):
        pty_session.command("AT\rAT")
    with pytest.raises(ValueError):
        pty_session.command_with_prompt("AT+CMGS=23", PDU + "\x1a")


# -- unsolicited codes inside responses ---------------------------------------------------------------


def test_urc_between_information_lines(session: AtSession, modem: FakeModem) -> None:
    urcs = urcs_of(session)
    modem.on("AT+CPMS?", b'\r\n+CPMS: "SM",1,30\r\n+CMTI: "SM",3\r\n+CPMS: "ME",0,100\r\n\r\nOK\r\n')
    assert session.command("AT+CPMS?").lines == ['+CPMS: "SM",1,30', '+CPMS: "ME",0,100']
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items == [Urc("+CMTI", '+CMTI: "SM",3', '"SM",3', None)]


def test_urc_between_cmgs_and_ok(session: AtSession, modem: FakeModem) -> None:
    urcs = urcs_of(session)
    modem.payload_reply = lambda m, _: m.send(b'\r\n+CMGS: 42\r\n+CMTI: "SM",4\r\n\r\nOK\r\n')
    assert session.command_with_prompt("AT+CMGS=23", PDU).lines == ["+CMGS: 42"]
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items[0] == Urc("+CMTI", '+CMTI: "SM",4', '"SM",4')


def test_urcs_inside_a_cmgl_listing(pty_session: AtSession, pty_modem: FakeModem) -> None:
    urcs = urcs_of(pty_session)
    pty_modem.on("AT+CMGL=4", (
        f"\r\n+CMGL: 1,1,,23\r\n{PDU}\r\n+CMTI: \"SM\",5\r\n+CMGL: 2,1,,23\r\n{PDU}\r\n"
        f"+CDS: 33\r\n{CDS_PDU}\r\nRING\r\n+CMGL: 3,1,,0\r\n\r\nOK\r\n").encode())
    response = pty_session.command("AT+CMGL=4")
    assert response.lines == ["+CMGL: 1,1,,23", PDU, "+CMGL: 2,1,,23", PDU, "+CMGL: 3,1,,0"]
    assert urcs.wait_for(lambda items: len(items) == 3)
    assert [u.name for u in urcs.items if isinstance(u, Urc)] == ["+CMTI", "+CDS", "RING"]
    assert urcs.items[1] == Urc("+CDS", "+CDS: 33", "33", CDS_PDU)


def test_text_mode_listing_body_that_looks_like_a_code(pty_session: AtSession, pty_modem: FakeModem) -> None:
    urcs = urcs_of(pty_session)
    header = '+CMGL: 1,"REC READ","+31628870634",,"11/01/09,10:26:26+04"'
    pty_modem.on("AT+CMGL", f"\r\n{header}\r\nRING\r\n{header}\r\nOK\r\n\r\nOK\r\n".encode())
    assert pty_session.command("AT+CMGL").lines == [header, "RING", header, "OK"]
    assert urcs.items == []


def test_urc_before_the_prompt(session: AtSession, modem: FakeModem) -> None:
    urcs = urcs_of(session)

    def prompt_after_urc(m: FakeModem, _: str) -> None:
        m.enter_text_mode()
        m.send(b'\r\n+CMTI: "SM",6\r\n' + PROMPT)

    modem.on("AT+CMGS=23", prompt_after_urc)
    assert session.command_with_prompt("AT+CMGS=23", PDU).lines == ["+CMGS: 1"]
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert modem.received[-1] == f"PAYLOAD:{PDU}"


def test_urc_right_after_the_prompt(session: AtSession, modem: FakeModem) -> None:
    urcs = urcs_of(session)

    def urc_after_prompt(m: FakeModem, _: str) -> None:
        m.enter_text_mode()
        m.send(PROMPT + b'\r\n+CMTI: "SM",7\r\n')

    modem.on("AT+CMGS=23", urc_after_prompt)
    assert session.command_with_prompt("AT+CMGS=23", PDU).lines == ["+CMGS: 1"]
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items[0] == Urc("+CMTI", '+CMTI: "SM",7', '"SM",7')


def test_claimed_code_is_the_answer(pty_session: AtSession, pty_modem: FakeModem) -> None:
    urcs = urcs_of(pty_session)
    pty_modem.on("AT+CREG?", b"\r\n+CREG: 2,1\r\n\r\nOK\r\n")
    assert pty_session.command("AT+CREG?").lines == ["+CREG: 2,1"]
    pty_modem.send(b"\r\n+CREG: 5\r\n")
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items == [Urc("+CREG", "+CREG: 5", "5")]


def test_cusd_before_ok_is_unsolicited(pty_session: AtSession, pty_modem: FakeModem) -> None:
    urcs = urcs_of(pty_session)
    pty_modem.on('AT+CUSD=1,"*100#",15', b'\r\n+CUSD: 0,"Balance 5.00\r\nValid until May",15\r\n\r\nOK\r\n')
    assert pty_session.command('AT+CUSD=1,"*100#",15').lines == []
    assert urcs.wait_for(lambda items: len(items) == 1)
    urc = urcs.items[0]
    assert isinstance(urc, Urc)
    assert urc.args == '0,"Balance 5.00\nValid until May",15'


# -- a PDU line in a later read ---------------------------------------------------------------------


def _line_seen(session: AtSession, text: str) -> threading.Event:
    seen = threading.Event()
    session.add_line_listener(lambda line: seen.set() if line == text else None)
    return seen


@pytest.mark.parametrize(("header", "pdu", "name"), [("+CMT: ,36", CMT_PDU, "+CMT"),
                                                       ("+CDS: 33", CDS_PDU, "+CDS")])
def test_pdu_line_in_a_later_write_while_idle(session: AtSession, modem: FakeModem, header: str, pdu: str,
                                              name: str) -> None:
    urcs = urcs_of(session)
    seen = _line_seen(session, header)
    modem.send(f"\r\n{header}\r\n".encode())
    assert seen.wait(WAIT)
    assert urcs.items == []
    modem.send(f"{pdu}\r\n".encode())
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items == [Urc(name, header, header.split(":")[1].strip(), pdu)]


def test_cmt_pdu_in_a_later_write_inside_a_response(session: AtSession, modem: FakeModem) -> None:
    urcs = urcs_of(session)
    seen = _line_seen(session, "+CMT: ,36")

    def split_reply(m: FakeModem, _: str) -> None:
        m.send(b"\r\n+CSQ: 20,99\r\n+CMT: ,36\r\n")
        assert seen.wait(WAIT)
        m.send(f"{CMT_PDU}\r\n+CSQ: 21,99\r\n\r\nOK\r\n".encode())

    modem.on("AT+CSQ", split_reply)
    assert session.command("AT+CSQ").lines == ["+CSQ: 20,99", "+CSQ: 21,99"]
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items == [Urc("+CMT", "+CMT: ,36", ",36", CMT_PDU)]


def test_text_mode_cds_takes_no_line(pty_session: AtSession, pty_modem: FakeModem) -> None:
    urcs = urcs_of(pty_session)
    text_mode = '+CDS: 6,12,"+31612345678",145,"24/01/01,10:00:00+04","24/01/01,10:00:05+04",0'
    pty_modem.on("AT+CSQ", f"\r\n{text_mode}\r\n+CSQ: 20,99\r\nOK\r\n".encode())
    assert pty_session.command("AT+CSQ").lines == ["+CSQ: 20,99"]
    assert urcs.wait_for(lambda items: len(items) == 1)
    assert urcs.items[0] == Urc("+CDS", text_mode, text_mode[6:], None)


# -- garbage ---------------------------------------------------------------------------------------


def test_garbage_and_non_utf8_bytes_do_not_hurt(session: AtSession, modem: FakeModem) -> None:
    strays = strays_of(session)
    modem.send(b"\xff\xfe\x00\x80garbage\x00\r\n")
    assert strays.wait_for(lambda items: len(items) == 1)
    modem.on("AT+CSQ", b"\r\n\xc3\x28\r\n+CSQ: 20,99\r\n\x00\x00\r\nOK\r\n")
    assert session.command("AT+CSQ").lines == ["\ufffd(", "+CSQ: 20,99"]
    assert session.command("AT").final == "OK"
    assert not session.closed


def test_failing_listener_never_kills_the_reader(pty_session: AtSession, pty_modem: FakeModem) -> None:
    def explode(_: Urc) -> None:
        raise RuntimeError("listener bug")

    pty_session.add_urc_listener(explode)
    urcs = urcs_of(pty_session)
    pty_modem.send(b"\r\nRING\r\n\r\nRING\r\n")
    assert urcs.wait_for(lambda items: len(items) == 2)
    assert pty_session.command("AT").final == "OK"


def test_unsubscribe_stops_delivery(pty_session: AtSession, pty_modem: FakeModem) -> None:
    first = Recorder()
    unsubscribe = pty_session.add_urc_listener(first)
    second = urcs_of(pty_session)
    unsubscribe()
    pty_modem.send(b"\r\nRING\r\n")
    assert second.wait_for(lambda items: len(items) == 1)
    assert first.items == []


def test_command_from_a_listener_is_refused(pty_session: AtSession, pty_modem: FakeModem) -> None:
    errors = Recorder()

    def misbehave(_: Urc) -> None:
        try:
            pty_session.command("AT")
        except RuntimeError as exc:
            errors(exc)

    pty_session.add_urc_listener(misbehave)
    pty_modem.send(b"\r\nRING\r\n")
    assert errors.wait_for(lambda items: len(items) == 1)


# -- stats -----------------------------------------------------------------------------------------


def test_stats_count_what_happened(pty_session: AtSession, pty_modem: FakeModem) -> None:
    urcs = urcs_of(pty_session)
    strays = strays_of(pty_session)
    pty_modem.on("AT+CSQ", b'\r\n+CSQ: 20,99\r\n+CMTI: "SM",1\r\nOK\r\n')
    pty_session.command("AT+CSQ")
    with pytest.raises(AtCommandError):
        pty_session.command("AT+NOPE")
    pty_modem.send(b"\r\nhello\r\n")
    assert strays.wait_for(lambda items: len(items) == 1)
    assert urcs.wait_for(lambda items: len(items) == 1)
    stats = pty_session.stats
    assert (stats.commands, stats.errors, stats.urcs, stats.stray_lines) == (2, 1, 1, 1)
    assert stats.bytes_out == len(b"AT+CSQ\r") + len(b"AT+NOPE\r")
    assert stats.bytes_in == len(b'\r\n+CSQ: 20,99\r\n+CMTI: "SM",1\r\nOK\r\n') + len(ERROR) + len(
        b"\r\nhello\r\n")
    assert (stats.timeouts, stats.resyncs) == (0, 0)


def test_session_must_be_started(pty_modem: FakeModem) -> None:
    from gatewayd.modem.transport import open_port

    session = AtSession(open_port(pty_modem.link.url), modem_id="x")
    try:
        with pytest.raises(RuntimeError):
            session.command("AT")
    finally:
        session.close()


def test_error_instead_of_prompt(session: AtSession, modem: FakeModem) -> None:
    modem.on("AT+CMGS=23", b"\r\n+CMS ERROR: 304\r\n")
    called: list[bool] = []
    with pytest.raises(CmsError) as caught:
        session.command_with_prompt("AT+CMGS=23", PDU, on_prompt=lambda: called.append(True))
    assert caught.value.code == 304 and caught.value.permanent
    assert called == []
    assert f"PAYLOAD:{PDU}" not in modem.received


def test_ok_instead_of_prompt_is_unexpected(pty_session: AtSession, pty_modem: FakeModem) -> None:
    pty_modem.on("AT+CMGS=23", OK)
    with pytest.raises(UnexpectedResponseError):
        pty_session.command_with_prompt("AT+CMGS=23", PDU)


def test_close_fails_a_waiting_command(pty_session: AtSession, pty_modem: FakeModem) -> None:
    closes = Recorder()
    pty_session.add_close_listener(closes)
    pty_modem.on("AT+COPS=?", b"")

    def close_when_sent() -> None:
        assert pty_modem.wait_received("AT+COPS=?")
        pty_session.close()

    threading.Thread(target=close_when_sent).start()
    started = time.monotonic()
    with pytest.raises(SessionClosedError):
        pty_session.command("AT+COPS=?", timeout=30)
    assert time.monotonic() - started < 3
    assert closes.wait_for(lambda items: items == [None])
    pty_session.close()
    assert closes.items == [None]
