"""Differential tests against three independent codecs (test-only dependencies, all import on 3.11):

- smspdudecoder (qotto/smspdudecoder): decoder of DELIVER/SUBMIT.
- python-messaging (pmarti/python-messaging): SmsSubmit encoder, SmsDeliver decoder.
- python-gsmmodem-new 0.13.0 (babca/python-gsmmodem): encodeSmsSubmitPdu, decodeSmsPdu.

Where an oracle is known to be wrong we assert the right value and the oracle's wrong one, with the
reason, so a silent change on either side shows up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from gsmmodem.pdu import decodeSmsPdu, encodeSmsSubmitPdu
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from messaging.sms import SmsDeliver as MessagingDeliver
from messaging.sms import SmsSubmit as MessagingSubmit
from smspdudecoder.easy import read_incoming_sms, read_outgoing_sms

from gatewayd.modem.gsm7 import GSM7_EXTENSION
from gatewayd.modem.pdu import SmsDeliver, decode_pdu, encode_deliver, encode_submit, plan_text
from tests.codec.strategies import gsm7_text, phone_number, unicode_text

WHEN = datetime(2023, 11, 5, 22, 15, 0, tzinfo=UTC)


def joined_surrogates(text: str) -> str:
    """python-messaging and gsmmodem decode UCS2 one code unit at a time, leaving surrogate halves;
    joining them is the faithful comparison (their output is right, only not normalised)."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be")


def gsmmodem_view(text: str) -> str:
    """What gsmmodem's GSM-7 tables make of ``text``. Two known table bugs in 0.13.0: septet 0x5F is
    "§" in 23.038 but "`" in its GSM7_BASIC, and its extension table keys form feed as "ÿ" with an int
    value, so ESC 0x0A decodes to nothing."""
    return text.replace("§", "`").replace("\f", "")


def assert_qotto_text(decoded: str, part: str, encoding: str) -> None:
    if encoding == "gsm7" and any(ch in GSM7_EXTENSION for ch in part):
        # Known smspdudecoder bug: it decodes every septet the octets hold, then slices the
        # *characters* by TP-UDL, a *septet* count. Each escape pair lets one zero padding
        # septet ("@") through at the end. The real text is a prefix; the rest is padding.
        assert decoded[:len(part)] == part
        assert set(decoded[len(part):]) <= {"@"}
    else:
        assert decoded == part


international_number = st.from_regex(r"\+[1-9][0-9]{3,14}", fullmatch=True)


@settings(max_examples=120, deadline=None)
@given(st.one_of(gsm7_text, unicode_text), phone_number, st.booleans(), st.integers(0, 255))
def test_deliver_decoded_alike(text: str, sender: str, concat_16bit: bool, reference: int) -> None:
    pdus = encode_deliver(sender, text, timestamp=WHEN, concat_reference=reference, concat_16bit=concat_16bit)
    encoding, parts = plan_text(text, concat_16bit=concat_16bit)
    for pdu, part in zip(pdus, parts, strict=True):
        ours = decode_pdu(pdu)
        assert isinstance(ours, SmsDeliver) and ours.text == part

        qotto = read_incoming_sms(pdu)
        assert qotto["sender"] == sender
        assert_qotto_text(qotto["content"], part, encoding)
        assert qotto["date"] == WHEN
        if len(pdus) > 1:
            assert qotto["partial"]["parts_count"] == len(pdus)

        if not part:
            # Known python-messaging bug: an empty user data field reaches unpack_msg as a str.
            with pytest.raises(TypeError):
                MessagingDeliver(pdu)
        else:
            messaging = MessagingDeliver(pdu)
            assert joined_surrogates(messaging.text) == part and messaging.number == sender
            if len(pdus) > 1 and not concat_16bit:
                assert (messaging.udh.concat.ref, messaging.udh.concat.cnt) == (reference, len(pdus))

        gsmmodem = decodeSmsPdu(pdu)
        assert gsmmodem["number"] == sender
        if encoding == "gsm7" and len(pdus) > 1 and concat_16bit and part:
            # Known gsmmodem bug: after a 7-octet UDH (16-bit reference) no fill bits are needed, but
            # its unpacker still consumes one octet's worth of bits and loses the first character.
            assert gsmmodem["text"] == gsmmodem_view(part[1:])
        elif encoding == "gsm7":
            assert gsmmodem["text"] == gsmmodem_view(part)
        else:
            assert joined_surrogates(gsmmodem["text"]) == part


@settings(max_examples=120, deadline=None)
@given(st.one_of(gsm7_text, unicode_text), phone_number, st.integers(0, 255))
def test_our_submit_decoded_by_oracles(text: str, destination: str, reference: int) -> None:
    for pdu in encode_submit(destination, text, concat_reference=reference):
        assert_qotto_text(read_outgoing_sms(pdu.hex)["content"], pdu.text, pdu.encoding)
        assert read_outgoing_sms(pdu.hex)["recipient"] == destination
        expected = gsmmodem_view(pdu.text) if pdu.encoding == "gsm7" else pdu.text
        assert joined_surrogates(decodeSmsPdu(pdu.hex)["text"]) == expected


bmp_text = st.one_of(gsm7_text, unicode_text).filter(lambda t: all(ord(c) <= 0xFFFF for c in t))


@settings(max_examples=150, deadline=None)
@given(bmp_text, international_number, st.integers(0, 255), st.booleans())
def test_single_part_submit_identical_to_gsmmodem(text: str, destination: str, reference: int,
                                                  srr: bool) -> None:
    # BMP only: gsmmodem's encodeUcs2 writes ord(c) into two octets and crashes on astral characters.
    # "§" and form feed are pinned separately below (gsmmodem's tables lack them); its table puts a
    # backtick at 0x5F where "§" belongs, so it would encode "`" as GSM-7 instead of UCS2; and it packs
    # a literal ESC character as septet 0x1B, which every receiver reads as an escape, not as text.
    assume(len(plan_text(text)[1]) == 1 and not set(text) & {"§", "\f", "ÿ", "`", "\x1b"})
    (ours,) = encode_submit(destination, text, message_reference=reference, request_status_report=srr)
    (theirs,) = encodeSmsSubmitPdu(destination, text, reference=reference, requestStatusReport=srr)
    assert ours.hex == bytes(theirs.data).hex().upper()
    assert ours.tpdu_length == theirs.tpduLength


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABC.,!?0123456789", min_size=161, max_size=900),
       international_number, st.integers(0, 255))
def test_multipart_submit_identical_to_gsmmodem(text: str, destination: str, reference: int) -> None:
    # Basic-table text: gsmmodem splits at 153 septets like us (its splitter miscounts around escapes).
    ours = encode_submit(destination, text, concat_reference=reference, message_reference=reference)
    theirs = encodeSmsSubmitPdu(destination, text, reference=reference, requestStatusReport=False)
    assert [p.hex for p in ours] == [bytes(p.data).hex().upper() for p in theirs]


@settings(max_examples=150, deadline=None)
@given(bmp_text, phone_number, st.sampled_from([None, timedelta(hours=1), timedelta(days=4)]))
def test_single_part_submit_identical_to_python_messaging(text: str, destination: str,
                                                          validity: timedelta | None) -> None:
    # The empty text is left out: python-messaging codes it as UCS2 (is_valid_gsm("") is falsy), we as
    # GSM-7; both are valid PDUs for the same nothing.
    assume(text and len(plan_text(text)[1]) == 1)
    sms = MessagingSubmit(destination, text)
    sms.ref = 0
    sms.validity = validity
    (theirs,) = sms.to_pdu()
    (ours,) = encode_submit(destination, text, validity=validity)
    assert ours.hex == theirs.pdu
    assert ours.tpdu_length == theirs.length


def test_python_messaging_and_gsmmodem_validity_round_down_but_we_round_up() -> None:
    # 23.040 allows either, but a message must not expire before the caller's deadline: 61 minutes is
    # sent as 65 (octet 12). python-messaging floors to 60 minutes (octet 11).
    sms = MessagingSubmit("+15550001", "hi")
    sms.ref = 0
    sms.validity = timedelta(minutes=61)
    assert sms.to_pdu()[0].pdu[22:24] == "0B"
    assert encode_submit("+15550001", "hi", validity=timedelta(minutes=61))[0].hex[22:24] == "0C"


def test_documented_differences_from_gsmmodem_encoder() -> None:
    # "§" is septet 0x5F of the default alphabet; gsmmodem's table lacks it and falls back to UCS2.
    (ours,) = encode_submit("+15550001", "§1")
    (theirs,) = encodeSmsSubmitPdu("+15550001", "§1", requestStatusReport=False)
    assert ours.encoding == "gsm7" and bytes(theirs.data)[10] == 0x08
    # The same table puts "`" at 0x5F, so gsmmodem sends a backtick as GSM-7 "§"; "`" is not in the
    # default alphabet (23.038 6.2.1), so it needs UCS2.
    (ours,) = encode_submit("+15550001", "`")
    (theirs,) = encodeSmsSubmitPdu("+15550001", "`", requestStatusReport=False)
    assert ours.encoding == "ucs2" and bytes(theirs.data)[-1] == 0x5F
    (ours,) = encode_submit("+15550001", "\x1b")
    (theirs,) = encodeSmsSubmitPdu("+15550001", "\x1b", requestStatusReport=False)
    assert ours.encoding == "ucs2" and bytes(theirs.data)[-1] == 0x1B
    # Its extension table keys form feed as "ÿ" with an int value, so "ÿ" crashes the encoder.
    with pytest.raises(TypeError):
        encodeSmsSubmitPdu("+15550001", "ÿ")
    assert encode_submit("+15550001", "ÿ")[0].encoding == "ucs2"
    # Numbers without "+": gsmmodem writes TON "national" (0xA1), we "unknown" (0x81), which lets the
    # network apply its own numbering plan; 23.040 allows both. Everything else is identical.
    (ours,) = encode_submit("0171234567", "hi")
    (theirs,) = encodeSmsSubmitPdu("0171234567", "hi", requestStatusReport=False)
    theirs_hex = bytes(theirs.data).hex().upper()
    assert (ours.hex[8:10], theirs_hex[8:10]) == ("81", "A1")
    assert ours.hex[:8] + ours.hex[10:] == theirs_hex[:8] + theirs_hex[10:]
