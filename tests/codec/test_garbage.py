"""Whatever a modem or a SIM hands us, decode_pdu raises PduError or returns a message: nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem.pdu import (
    PduError,
    SmsDeliver,
    decode_pdu,
    encode_deliver,
    encode_status_report,
    encode_submit,
)
from tests.codec.test_vectors import (
    MM_DCSF1,
    MM_MULTI1,
    MM_PDU1,
    MM_PDU2,
    MM_STATUS_REPORT,
    MM_STORED_SUBMIT,
    MM_UDHI_16BIT,
)

VALID = [MM_PDU1, MM_PDU2, MM_DCSF1, MM_UDHI_16BIT, MM_MULTI1, MM_STORED_SUBMIT, MM_STATUS_REPORT,
         "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301"]


def decode_or_pdu_error(pdu: str, has_smsc: bool = True) -> None:
    try:
        decode_pdu(pdu, has_smsc=has_smsc)
    except PduError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_random_octets(data: bytes, has_smsc: bool) -> None:
    decode_or_pdu_error(data.hex(), has_smsc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_random_strings(text: str) -> None:
    decode_or_pdu_error(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_mutated_valid_pdus(pdu: str, data: st.DataObject) -> None:
    raw = bytearray.fromhex(pdu)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    decode_or_pdu_error(raw.hex())


@pytest.mark.parametrize("pdu", VALID)
def test_every_truncation_is_an_error(pdu: str) -> None:
    decode_pdu(pdu)
    for octets in range(len(pdu) // 2):
        with pytest.raises(PduError):
            decode_pdu(pdu[: octets * 2])


@pytest.mark.parametrize("pdu", VALID)
def test_trailing_junk_is_an_error_but_ff_padding_and_whitespace_are_not(pdu: str) -> None:
    with pytest.raises(PduError):
        decode_pdu(pdu + "0000")  # (a single 00 after a status report is a valid empty TP-PI)
    assert decode_pdu(f"  {pdu.lower()}FFFF\r\n") == decode_pdu(pdu)
    assert decode_pdu(pdu + "F") == decode_pdu(pdu)  # odd-length hex with a trailing filler nibble


def test_specific_garbage() -> None:
    for bad in ["", "0", "zz", "00", "0003", "07911326040000F0", "0000"]:
        with pytest.raises(PduError):
            decode_pdu(bad)
    with pytest.raises(PduError, match="reserved"):
        decode_pdu("0003")
    with pytest.raises(PduError):
        decode_pdu(b"0001".decode() + "000B91")
    with pytest.raises(PduError):
        decode_pdu(123)  # type: ignore[arg-type]


def test_lone_surrogate_in_ucs2_is_replaced() -> None:
    # "hi" + a high surrogate with no low half: U+FFFD, never UnicodeDecodeError.
    pdu = "00" "04" "038121F3" "00" "08" "42101010000000" "06" "00680069D83D"
    msg = decode_pdu(pdu)
    assert isinstance(msg, SmsDeliver) and msg.text == "hi\ufffd"


def test_encoders_only_raise_pdu_error() -> None:
    from datetime import UTC, datetime

    when = datetime(2024, 1, 1, tzinfo=UTC)
    calls: list[Callable[[], object]] = [
        lambda: encode_submit("", "x"),
        lambda: encode_submit("+" + "1" * 21, "x"),
        lambda: encode_submit("+15550001", "x", message_reference=256),
        lambda: encode_submit("+15550001", "x", smsc="SMSC"),
        lambda: encode_deliver("TooLongSenderName", "x", timestamp=when),
        lambda: encode_deliver("+15550001", "x", timestamp=datetime(2024, 1, 1)),
        lambda: encode_status_report(1, "+15550001", sc_timestamp=when, discharge_time=when, status=256),
    ]
    for call in calls:
        with pytest.raises(PduError):
            call()
