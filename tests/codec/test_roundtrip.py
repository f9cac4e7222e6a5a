"""encode -> decode round trips over random text, for every part count and both concat widths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewayd.modem.pdu import (
    MAX_USER_DATA_OCTETS,
    PduError,
    SmsDeliver,
    SmsStatusReport,
    SmsSubmit,
    decode_pdu,
    decode_relative_validity,
    decode_timestamp,
    encode_deliver,
    encode_relative_validity,
    encode_status_report,
    encode_submit,
    encode_timestamp,
    plan_text,
)
from gatewayd.modem.reassembly import Reassembler
from tests.codec.strategies import gsm7_text, phone_number, unicode_text

WHEN = datetime(2024, 3, 31, 1, 59, 58, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))


def _check_submit(destination: str, text: str, concat_16bit: bool, reference: int) -> None:
    encoding, parts = plan_text(text, concat_16bit=concat_16bit)
    pdus = encode_submit(destination, text, concat_reference=reference, concat_16bit=concat_16bit,
                         message_reference=reference & 0xFF, request_status_report=True)
    assert [p.text for p in pdus] == parts
    assert "".join(parts) == text
    for index, pdu in enumerate(pdus, start=1):
        assert pdu.encoding == encoding
        assert pdu.tpdu_length == len(pdu.hex) // 2 - 1  # SMSC field "00"
        msg = decode_pdu(pdu.hex)
        assert isinstance(msg, SmsSubmit)
        assert msg.destination == destination and msg.text == pdu.text
        assert msg.encoding == encoding and msg.status_report_request
        digits = len(destination.lstrip("+"))
        header_octets = 1 + 2 + 2 + (digits + 1) // 2 + 2 + 1  # SMSC, first+MR, DA, PID+DCS, UDL
        assert len(pdu.hex) // 2 - header_octets <= MAX_USER_DATA_OCTETS
        if len(pdus) == 1:
            assert msg.concat is None and pdu.concat is None
        else:
            assert msg.concat == pdu.concat
            assert msg.concat is not None
            assert (msg.concat.total, msg.concat.sequence) == (len(pdus), index)
            assert msg.concat.reference == reference
            assert msg.concat.bits == (16 if concat_16bit else 8)


@settings(max_examples=200, deadline=None)
@given(phone_number, gsm7_text, st.booleans(), st.integers(0, 255))
def test_gsm7_submit_round_trip(destination: str, text: str, concat_16bit: bool, reference: int) -> None:
    assert plan_text(text)[0] == "gsm7"
    _check_submit(destination, text, concat_16bit, reference)


@settings(max_examples=200, deadline=None)
@given(phone_number, unicode_text, st.booleans(), st.integers(0, 255))
def test_unicode_submit_round_trip(destination: str, text: str, concat_16bit: bool, reference: int) -> None:
    _check_submit(destination, text, concat_16bit, reference)


@settings(max_examples=150, deadline=None)
@given(st.one_of(gsm7_text, unicode_text), st.booleans(), st.integers(0, 0xFFFF),
       st.one_of(phone_number, st.sampled_from(["MyBank", "Info-SMS", "A{b}€", "12345678901"])))
def test_deliver_round_trip_through_reassembly(
    text: str, concat_16bit: bool, reference: int, sender: str
) -> None:
    ref = reference if concat_16bit else reference & 0xFF
    pdus = encode_deliver(sender, text, timestamp=WHEN, concat_reference=ref, concat_16bit=concat_16bit,
                          smsc="+4917200000")
    reassembler = Reassembler()
    results = []
    for pdu in reversed(pdus):
        msg = decode_pdu(pdu)
        assert isinstance(msg, SmsDeliver)
        assert (msg.sender, msg.timestamp, msg.smsc) == (sender, WHEN, "+4917200000")
        assert msg.timestamp.utcoffset() == WHEN.utcoffset()
        results.append(reassembler.add(msg, key="modem0"))
    assert results[:-1] == [None] * (len(pdus) - 1)
    final = results[-1]
    assert final is not None and final.complete and final.text == text and final.sender == sender
    assert reassembler.pending() == 0


def _text_for(encoding: str, units: int) -> str:
    return "a" * units if encoding == "gsm7" else "ж" * units


@pytest.mark.parametrize("concat_16bit", [False, True])
@pytest.mark.parametrize("encoding", ["gsm7", "ucs2"])
@pytest.mark.parametrize("parts", [1, 2, 3, 4, 5, 8, 17, 255])
def test_every_part_count_at_the_boundaries(encoding: str, parts: int, concat_16bit: bool) -> None:
    single = 160 if encoding == "gsm7" else 70
    per_part = {("gsm7", False): 153, ("gsm7", True): 152, ("ucs2", False): 67, ("ucs2", True): 66}[
        (encoding, concat_16bit)]
    most = single if parts == 1 else per_part * parts
    assert len(plan_text(_text_for(encoding, most), concat_16bit=concat_16bit)[1]) == parts
    if parts < 255:
        assert len(plan_text(_text_for(encoding, most + 1), concat_16bit=concat_16bit)[1]) == parts + 1
    else:
        with pytest.raises(PduError):
            plan_text(_text_for(encoding, most + 1), concat_16bit=concat_16bit)
    text = _text_for(encoding, most)
    pdus = encode_submit("+15550001", text, concat_reference=9, concat_16bit=concat_16bit)
    assert all(len(bytes.fromhex(p.hex)) - p.tpdu_length == 1 for p in pdus)
    decoded = [decode_pdu(p.hex) for p in pdus]
    assert "".join(m.text for m in decoded if isinstance(m, SmsSubmit)) == text


def test_parts_never_split_escapes_or_surrogate_pairs() -> None:
    encoding, parts = plan_text("x" * 152 + "€" + "y" * 10)
    assert encoding == "gsm7" and parts == ["x" * 152, "€" + "y" * 10]  # 152 + 2 septets overflow 153
    encoding, parts = plan_text("x" * 66 + "😀" + "y" * 5)
    assert encoding == "ucs2" and parts == ["x" * 66, "😀" + "y" * 5]  # 66 + 2 units overflow 67


def test_encoding_choice_and_limits() -> None:
    assert plan_text("hello")[0] == "gsm7"
    assert plan_text("hello", "ucs2") == ("ucs2", ["hello"])
    with pytest.raises(PduError):
        plan_text("😀", "gsm7")
    with pytest.raises(PduError, match="concat_reference"):
        encode_submit("+15550001", "x" * 161)
    with pytest.raises(PduError):
        encode_submit("+15550001", "x" * 400, concat_reference=1, max_parts=2)
    with pytest.raises(PduError):
        encode_submit("+15550001", "x" * 400, concat_reference=256)
    with pytest.raises(PduError):
        encode_submit("Shop", "hi")  # alphanumeric destinations cannot be submitted
    assert decode_pdu(encode_submit("0171234", "hi")[0].hex).destination_toa == 0x81  # type: ignore[union-attr]
    assert decode_pdu(encode_deliver("Shop", "hi", timestamp=WHEN)[0]).sender_toa == 0xD0  # type: ignore[union-attr]


@pytest.mark.parametrize(("period", "octet"), [
    (timedelta(seconds=1), 0), (timedelta(minutes=5), 0), (timedelta(minutes=5, seconds=1), 1),
    (timedelta(hours=12), 143), (timedelta(hours=12, seconds=1), 144), (timedelta(hours=24), 167),
    (timedelta(hours=24, seconds=1), 168), (timedelta(days=2), 168), (timedelta(days=30), 196),
    (timedelta(days=30, seconds=1), 197), (timedelta(weeks=5), 197), (timedelta(weeks=5, days=1), 198),
    (timedelta(weeks=63), 255), (timedelta(weeks=500), 255),
])
def test_relative_validity_rounds_up(period: timedelta, octet: int) -> None:
    assert encode_relative_validity(period) == octet
    assert decode_relative_validity(octet) >= min(period, timedelta(weeks=63))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255))
def test_relative_validity_is_exact_on_representable_values(octet: int) -> None:
    assert encode_relative_validity(decode_relative_validity(octet)) == octet


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2069, 12, 31, 23, 59, 59)),
       st.integers(-79, 79))
def test_timestamp_round_trip(when: datetime, quarters: int) -> None:
    aware = when.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=15 * quarters)))
    decoded = decode_timestamp(encode_timestamp(aware))
    assert decoded == aware and decoded.utcoffset() == aware.utcoffset()


def test_timestamp_errors() -> None:
    with pytest.raises(PduError):
        encode_timestamp(datetime(2024, 1, 1))  # naive
    with pytest.raises(PduError):
        encode_timestamp(datetime(2024, 1, 1, tzinfo=timezone(timedelta(minutes=7))))
    with pytest.raises(PduError):
        decode_timestamp(bytes.fromhex("42302910000000"))  # 31 February... month 03 day 92
    with pytest.raises(PduError):
        decode_timestamp(bytes.fromhex("4A101010000000"))  # non-BCD digit
    assert decode_timestamp(bytes.fromhex("99202150750321")) == datetime(
        1999, 2, 12, 5, 57, 30, tzinfo=timezone(timedelta(hours=3)))  # dreamfabric/python-messaging example


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), phone_number, st.integers(0, 255))
def test_status_report_round_trip(reference: int, recipient: str, status: int) -> None:
    pdu = encode_status_report(reference, recipient, sc_timestamp=WHEN, status=status,
                               discharge_time=WHEN + timedelta(seconds=5), smsc="+3161000")
    rep = decode_pdu(pdu)
    assert isinstance(rep, SmsStatusReport)
    assert (rep.message_reference, rep.recipient, rep.status) == (reference, recipient, status)
    assert rep.smsc == "+3161000"
    assert rep.discharge_time - rep.sc_timestamp == timedelta(seconds=5)
    assert [rep.delivered, rep.pending, rep.failed].count(True) == 1
    assert rep.status_text


def test_validity_round_trip_in_submit() -> None:
    absolute = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    cases: list[tuple[timedelta | datetime, timedelta | datetime]] = [
        (timedelta(hours=1), timedelta(hours=1)), (absolute, absolute),
        (timedelta(days=3, hours=1), timedelta(days=4))]
    for validity, expected in cases:
        msg = decode_pdu(encode_submit("+15550001", "hi", validity=validity)[0].hex)
        assert isinstance(msg, SmsSubmit) and msg.validity == expected
