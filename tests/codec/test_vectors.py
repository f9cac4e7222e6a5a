"""Published real-world vectors from other projects' test suites, decoded and (where they are ours to
produce) encoded byte for byte. Sources, cited per vector:

- [MM]  ModemManager, src/tests/test-sms-part-3gpp.c (freedesktop ModemManager; also in its
        mm-sms-part tests): captured DELIVER/SUBMIT/STATUS-REPORT PDUs with expected fields.
- [GM]  faucamp/python-gsmmodem, test/test_pdu.py (TestSmsPdu.test_decode / test_encodeSmsSubmit*).
- [PM]  pmarti/python-messaging, messaging/test/test_sms.py (TestSmsSubmit / TestSmsDeliver).
- [SY]  Symbian smsstack test (CSmutTest::TestSpecialSmsMessageIndicationPduL), a TPDU without SMSC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gatewayd.modem.pdu import (
    Concat,
    MessageWaiting,
    PduError,
    SmsDeliver,
    SmsStatusReport,
    SmsSubmit,
    decode_pdu,
    encode_submit,
)


def tz(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


def deliver(pdu: str, **kw: object) -> SmsDeliver:
    msg = decode_pdu(pdu, **kw)  # type: ignore[arg-type]
    assert isinstance(msg, SmsDeliver)
    return msg


# [MM] test_pdu1: extended characters, negative zone.
MM_PDU1 = bytes([
    0x07, 0x91, 0x21, 0x04, 0x44, 0x29, 0x61, 0xf4, 0x04, 0x0b, 0x91, 0x61, 0x71, 0x95, 0x72, 0x91,
    0xf8, 0x00, 0x00, 0x11, 0x20, 0x82, 0x11, 0x05, 0x05, 0x0a, 0x6a, 0xc8, 0xb2, 0xbc, 0x7c, 0x9a,
    0x83, 0xc2, 0x20, 0xf6, 0xdb, 0x7d, 0x2e, 0xcb, 0x41, 0xed, 0xf2, 0x7c, 0x1e, 0x3e, 0x97, 0x41,
    0x1b, 0xde, 0x06, 0x75, 0x4f, 0xd3, 0xd1, 0xa0, 0xf9, 0xbb, 0x5d, 0x06, 0x95, 0xf1, 0xf4, 0xb2,
    0x9b, 0x5c, 0x26, 0x83, 0xc6, 0xe8, 0xb0, 0x3c, 0x3c, 0xa6, 0x97, 0xe5, 0xf3, 0x4d, 0x6a, 0xe3,
    0x03, 0xd1, 0xd1, 0xf2, 0xf7, 0xdd, 0x0d, 0x4a, 0xbb, 0x59, 0xa0, 0x79, 0x7d, 0x8c, 0x06, 0x85,
    0xe7, 0xa0, 0x00, 0x28, 0xec, 0x26, 0x83, 0x2a, 0x96, 0x0b, 0x28, 0xec, 0x26, 0x83, 0xbe, 0x60,
    0x50, 0x78, 0x0e, 0xba, 0x97, 0xd9, 0x6c, 0x17]).hex()
# [MM] test_pdu2: alphanumeric sender, UCS2.
MM_PDU2 = bytes([
    0x07, 0x91, 0x97, 0x30, 0x07, 0x11, 0x11, 0xf1, 0x04, 0x14, 0xd0, 0x49, 0x37, 0xbd, 0x2c, 0x77,
    0x97, 0xe9, 0xd3, 0xe6, 0x14, 0x00, 0x08, 0x11, 0x30, 0x92, 0x91, 0x02, 0x40, 0x61, 0x08, 0x04,
    0x42, 0x04, 0x35, 0x04, 0x41, 0x04, 0x42]).hex()
# [MM] test_pdu3 and its 8-bit / DCS 0xF4 (class 0, 8-bit) variants and the truncated one.
MM_PDU3 = "07912143658709F1040B918100551512F20000111010214365000AE8329BFD4697D9EC37"
MM_PDU3_8BIT = "07912143658709F1040B918100551512F20004111010214365000AE8329BFD4697D9EC37DE"
MM_PDU_DCSF4 = "07912143658709F1040B918100551512F200F4111010214365000AE8329BFD4697D9EC37DE"
MM_INSUFFICIENT = "07912143658709F1040B918100551512F20000111010214365000BE8329BFD4697D9EC37"
# [MM] test_pdu_dcsf1: DCS 0xF1 (class 1), sender TOA 0x85, text with CR LF and accents.
MM_DCSF1 = bytes([
    0x07, 0x91, 0x33, 0x06, 0x09, 0x10, 0x93, 0xF0, 0x04, 0x04, 0x85, 0x81, 0x00, 0x00, 0xF1, 0x11,
    0x60, 0x42, 0x31, 0x80, 0x51, 0x80, 0xA0, 0x49, 0xB7, 0xF9, 0x0D, 0x9A, 0x1A, 0xA5, 0xA0, 0x16,
    0x68, 0xF8, 0x76, 0x9B, 0xD3, 0xE4, 0xB2, 0x9B, 0x9E, 0x2E, 0xB3, 0x59, 0xA0, 0x3F, 0xC8, 0x5D,
    0x06, 0xA9, 0xC3, 0xED, 0x70, 0x7A, 0x0E, 0xA2, 0xCB, 0xC3, 0xEE, 0x79, 0xBB, 0x4C, 0xA7, 0xCB,
    0xCB, 0xA0, 0x56, 0x43, 0x61, 0x7D, 0xA7, 0xC7, 0x69, 0x90, 0xFD, 0x4D, 0x97, 0x97, 0x41, 0xEE,
    0x77, 0xDD, 0x5E, 0x0E, 0xD7, 0x41, 0xED, 0x37, 0x1D, 0x44, 0x2E, 0x83, 0xE0, 0xE1, 0xF9, 0xBC,
    0x0C, 0xD2, 0x81, 0xE6, 0x77, 0xD9, 0xB8, 0x4C, 0x06, 0xC1, 0xDF, 0x75, 0x39, 0xE8, 0x5C, 0x90,
    0x97, 0xE5, 0x20, 0xFB, 0x9B, 0x2E, 0x2F, 0x83, 0xC6, 0xEF, 0x36, 0x9C, 0x5E, 0x06, 0x4D, 0x8D,
    0x52, 0xD0, 0xBC, 0x2E, 0x07, 0xDD, 0xEF, 0x77, 0xD7, 0xDC, 0x2C, 0x77, 0x99, 0xE5, 0xA0, 0x77,
    0x1D, 0x04, 0x0F, 0xCB, 0x41, 0xF4, 0x02, 0xBB, 0x00, 0x47, 0xBF, 0xDD, 0x65, 0x50, 0xB8, 0x0E,
    0xCA, 0xD9, 0x66]).hex()
# [MM] test_pdu_udhi: KPN welcome message, 16-bit concatenation: a 7-octet UDH needs NO fill bits.
MM_UDHI_16BIT = (
    "07911356131313F64004850120390011609232239180A006080400100201D7327BFD6EB340E232"
    "1BF46E83EA7790F59D1E97DBE1341B442F83C465763D3DA797E56537C81D0ECB41AB59CC1693C1"
    "6031D96C064241E5656838AF03A96230982A269BCD462917C8FA4E8FCBED709A0D7ABBE9F6B0FB"
    "5C7683D27350984D4FABC9A0B33C4C4FCF5D20EBFB2D079DCB62793DBD06D9C36E50FB2D4E97D9"
    "A0B49B5E96BBCB")
# [MM] test_pdu_multipart: two parts, 8-bit concatenation reference 0x4C.
MM_MULTI1 = (
    "07912160130320F5440B916171056429F5000021405291650569A00500034C0201A9E8F41C949E"
    "83C2207B599E07B1DFEE33885E9ED341E4F23C7D7697C920FA1B54C697E5E3F4BC0C6AD7D9F434"
    "081E96D341E3303C2C4EB3D3F4BC0B94A483E6E8779D4D06CDD1EF3BA80E0785E7A0B7BB0C6A97"
    "E7F3F0B9CC02B9DF7450780EA2DFDF2C50780EA2A3CBA0BA9B5C96B3F369F71954768FDFE4B4FB"
    "0C9297E1F2F2BCECA6CF41")
MM_MULTI2 = (
    "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D4447"
    "9741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10")
MM_MULTI_TEXT1 = ("This is a very long test designed to exercise multi part capability. It should "
                  "show up as one message, not as two, as the underlying encoding represents ")
MM_MULTI_TEXT2 = "that the parts are related to one another. "
# [MM] test_pdu_stored_by_us (a SUBMIT, UCS2) and test_pdu_not_stored (a STATUS-REPORT).
MM_STORED_SUBMIT = ("002100098136397339F70008224F60597D4F60597D4F60597D4F60597D4F60597D"
                    "4F60597D4F60597D4F60597D4F60")
MM_STATUS_REPORT = "07914356060013F1065A098136397339F7219011700463802190117004638030"


def test_mm_extended_characters_and_negative_zone() -> None:
    msg = deliver(MM_PDU1)
    assert msg.smsc == "+12404492164"
    assert msg.sender == "+16175927198"
    assert msg.timestamp == datetime(2011, 2, 28, 11, 50, 50, tzinfo=tz(-5))
    assert msg.timestamp.utcoffset() == timedelta(hours=-5)
    assert msg.text == ("Here's a longer message [{with some extended characters}] "
                        "thrown in, such as £ and ΩΠΨ and §¿ as well.")


def test_mm_alphanumeric_sender_ucs2() -> None:
    msg = deliver(MM_PDU2)
    assert (msg.smsc, msg.sender, msg.sender_toa) == ("+79037011111", "InternetSMS", 0xD0)
    assert msg.timestamp == datetime(2011, 3, 29, 19, 20, 4, tzinfo=tz(4))
    assert (msg.encoding, msg.text) == ("ucs2", "тест")


def test_mm_plain_and_8bit_and_class0() -> None:
    msg = deliver(MM_PDU3)
    assert (msg.smsc, msg.sender, msg.text) == ("+12345678901", "+18005551212", "hellohello")
    assert msg.timestamp == datetime(2011, 1, 1, 12, 34, 56, tzinfo=UTC)
    assert msg.more_messages is False  # TP-MMS bit set: no more messages waiting
    expected = bytes([0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37, 0xDE])
    eight = deliver(MM_PDU3_8BIT)
    assert (eight.encoding, eight.data, eight.text, eight.message_class) == ("8bit", expected,
                                                                          expected.hex().upper(), None)
    class0 = deliver(MM_PDU_DCSF4)
    assert (class0.encoding, class0.data, class0.message_class) == ("8bit", expected, 0)


def test_mm_truncated_user_data_is_an_error() -> None:
    with pytest.raises(PduError):
        decode_pdu(MM_INSUFFICIENT)


def test_mm_dcs_group_f_class1() -> None:
    msg = deliver(MM_DCSF1)
    assert (msg.smsc, msg.sender, msg.message_class, msg.encoding) == ("+33609001390", "1800", 1, "gsm7")
    assert msg.timestamp == datetime(2011, 6, 24, 13, 8, 15, tzinfo=tz(2))
    assert msg.text == ("Info SFR - Confidentiel, à ne jamais transmettre -\r\n"
                        "Voici votre nouveau mot de passe : sw2ced pour gérer "
                        "votre compte SFR sur www.sfr.fr ou par téléphone au 963")


def test_mm_16bit_concatenation_keeps_first_character() -> None:
    # The python-gsmmodem family drops the "W" here (no fill bits after a 7-octet UDH).
    msg = deliver(MM_UDHI_16BIT)
    assert (msg.smsc, msg.sender) == ("+31653131316", "1002")
    assert msg.timestamp == datetime(2011, 6, 29, 23, 32, 19, tzinfo=tz(2))
    assert msg.concat == Concat(reference=0x0010, total=2, sequence=1, bits=16)
    assert msg.text == ("Welkom, bel om uw Voicemail te beluisteren naar +31612001233"
                        " (PrePay: *100*1233#). Voicemail ontvangen is altijd gratis."
                        " Voor gebruik van mobiel interne")


def test_mm_8bit_concatenation_two_parts() -> None:
    one, two = deliver(MM_MULTI1), deliver(MM_MULTI2)
    assert (one.smsc, two.smsc, one.sender) == ("+12063130025", "+12063130026", "+16175046925")
    assert one.timestamp == datetime(2012, 4, 25, 19, 56, 50, tzinfo=tz(-4))
    assert two.timestamp == datetime(2012, 4, 25, 19, 56, 51, tzinfo=tz(-4))
    assert one.concat == Concat(0x4C, 2, 1, 8) and two.concat == Concat(0x4C, 2, 2, 8)
    assert (one.text, two.text) == (MM_MULTI_TEXT1, MM_MULTI_TEXT2)


def test_mm_stored_submit_and_status_report() -> None:
    sub = decode_pdu(MM_STORED_SUBMIT)
    assert isinstance(sub, SmsSubmit)
    assert (sub.smsc, sub.destination, sub.text) == (None, "639337937", "你好" * 8 + "你")
    assert sub.status_report_request and sub.validity is None
    rep = decode_pdu(MM_STATUS_REPORT)
    assert isinstance(rep, SmsStatusReport)
    assert (rep.smsc, rep.recipient, rep.message_reference, rep.status) == ("+34656000311", "639337937",
                                                                            0x5A, 0x30)
    assert rep.sc_timestamp == datetime(2012, 9, 11, 7, 40, 36, tzinfo=tz(2))
    assert rep.pending and not rep.delivered and not rep.failed


# ------------------------------------------------------------------------------ python-gsmmodem [GM]

def test_gm_decode_deliveries() -> None:
    msg = deliver("06917228195339040B917228214365F700003130805120618005D4F29C2E03")
    assert (msg.smsc, msg.sender, msg.pid, msg.text) == ("+2782913593", "+27821234567", 0, "Test2")
    assert msg.timestamp == datetime(2013, 3, 8, 15, 2, 16, tzinfo=tz(2))
    msg = deliver("07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB"
                  "6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E")
    assert (msg.smsc, msg.sender) == ("+85290000000", "+85291234567")
    assert msg.timestamp == datetime(2007, 4, 12, 23, 25, 42, tzinfo=tz(8))
    assert msg.text == "It is easy to read text messages via AT commands."
    msg = deliver("06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910")
    assert msg.text == "@{tést}!"


def test_gm_decode_8bit_concat_national_sender() -> None:
    msg = deliver("0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941"
                  "B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0"
                  "DB0D82C55EB0DB4B068BCD5C20")
    assert (msg.smsc, msg.sender, msg.sender_toa) == ("+2781191", "2781188", 0x81)
    assert msg.concat == Concat(0xC3, 1, 1, 8)
    assert msg.text == "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. "


def test_gm_decode_submits() -> None:
    sub = decode_pdu("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701")
    assert isinstance(sub, SmsSubmit)
    assert (sub.smsc, sub.destination, sub.validity, sub.text) == (
        "+31624000000", "+31628870634", timedelta(days=3), "www.diafaan.com")
    sub = decode_pdu("0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421")
    assert isinstance(sub, SmsSubmit)
    assert (sub.smsc, sub.encoding, sub.data) == ("+2781191", "8bit", b"Hello world!")
    sub = decode_pdu("04A12143F5310D0AA110624521430000A91BD4F29C0E6A97E7F3F0B9AC03B1DFE3301BE4AEB7C565F91C")
    assert isinstance(sub, SmsSubmit)
    assert (sub.smsc, sub.destination, sub.destination_toa, sub.message_reference) == (
        "12345", "0126541234", 0xA1, 13)
    assert (sub.validity, sub.status_report_request, sub.text) == (
        timedelta(days=3), True, "Test message: local numbers")


def test_gm_user_data_length_too_long_is_an_error() -> None:
    # [GM] decodes this one leniently ("UDL is invalid in this PDU (too long)"); we refuse truncation.
    with pytest.raises(PduError):
        decode_pdu("0041010C910661345542F60008A0050003000301306F3044")


def test_gm_status_reports() -> None:
    rep = decode_pdu("0006D60B911326880736F4111011719551401110117195714000")
    assert isinstance(rep, SmsStatusReport)
    assert (rep.recipient, rep.message_reference, rep.status, rep.delivered) == ("+31628870634", 214, 0, True)
    # ZTE's "semi-invalid" report: digits 0xB in the number are "#" per 23.040 9.1.2.3.
    rep = decode_pdu("0297F1061C0F910B487228297020F5317062419272803170624192138000")
    assert isinstance(rep, SmsStatusReport)
    assert (rep.message_reference, rep.recipient) == (28, "+#08427829207025")
    assert rep.sc_timestamp == datetime(2013, 7, 26, 14, 29, 27, tzinfo=tz(2))
    assert rep.discharge_time == datetime(2013, 7, 26, 14, 29, 31, tzinfo=tz(2))


LOREM = ("Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt ut "
         "labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco laboris "
         "nisi ut aliquip ex ea commodo consequat.Duis aute irure dolor in reprehenderit in voluptate velit "
         "esse cillum doloe eu fugiat nulla pariatur.Excepteur sint occaecat cupidatat non proident, sunt "
         "in culpa qui officia deserunt mollit anim id est laborum")
LOREM_PDUS = [
    "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A"
    "995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E"
    "6287C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
    "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939"
    "C89D9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC"
    "66BFE5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
    "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079"
    "DA4D07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C"
    "1EA7C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"destination": "+27820001111", "text": "Hello World!"},
     "0001000B917228001011F100000CC8329BFD065DDF72363904"),
    ({"destination": "+123456789", "text": "世界您好\uff01", "validity": timedelta(weeks=52),
      "smsc": "+44000000000"},
     "07914400000000F01100099121436587F90008F40A4E16754C60A8597DFF01"),
    ({"destination": "+27820001111", "text": "Timestamp validity test",
      "validity": datetime(2013, 7, 10, 13, 39, tzinfo=tz(2))},
     "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301"),
    # [PM] TestSmsSubmit
    ({"destination": "+34616585119", "text": "hola"}, "0001000B914316565811F9000004E8373B0C"),
    ({"destination": "+34616585119", "text": "hola", "validity": timedelta(days=4)},
     "0011000B914316565811F90000AA04E8373B0C"),
    ({"destination": "+34616585119", "text": "hola",
      "validity": datetime(2010, 7, 25, 20, 15, 39, tzinfo=UTC)},
     "0019000B914316565811F900000170520251930004E8373B0C"),
    ({"destination": "+34616585119", "text": "hola", "smsc": "+34646456456"},
     "07914346466554F601000B914316565811F9000004E8373B0C"),
    ({"destination": "+34654123456", "text": "hey yo", "request_status_report": True},
     "0021000B914356143254F6000006E8721E947F03"),
    ({"destination": "+34654123456", "text": "Hölä", "validity": timedelta(days=4)},
     "0011000B914356143254F60000AA04483E7B0F"),
    ({"destination": "+34654123456", "text": "BÄRÇA äñ@"}, "0001000B914356143254F6000009C2AD341104EDFB00"),
    ({"destination": "+34616585119", "text": "あ叶葉", "smsc": "+34646456456"},
     "07914346466554F601000B914316565811F9000806304253F68449"),
    ({"destination": "655345678", "text": "Русский", "validity": timedelta(days=4)},
     "001100098156355476F80008AA0E0420044304410441043A04380439"),
])
def test_encode_submit_matches_published(kwargs: dict[str, object], expected: str) -> None:
    (pdu,) = encode_submit(**kwargs)  # type: ignore[arg-type]
    assert pdu.hex == expected
    smsc_octets = int(expected[:2], 16) + 1
    assert pdu.tpdu_length == len(expected) // 2 - smsc_octets


def test_encode_concatenated_matches_gsmmodem() -> None:
    pdus = encode_submit("+15125551234", LOREM, concat_reference=0, reject_duplicates=True)
    assert [p.hex for p in pdus] == LOREM_PDUS
    assert "".join(p.text for p in pdus) == LOREM


def test_encode_concatenated_matches_python_messaging() -> None:
    text = ("Or walk with Kings - nor lose the common touch, if neither foes nor loving friends can hurt "
            "you, If all men count with you, but none too much; If you can fill the unforgiving minute "
            "With sixty seconds' worth of distance run, Yours is the Earth and everything thats in it, "
            "And - which is more - you will be a Man, my son")
    expected = [
        "005100098156355476F80000AAA00500038803019E72D03DCC5E83EE693A1AB44CBBCF73500BE47ECB41ECF7BC0CA2A3CBA0F1"
        "BBDD7EBB41F4777D8C6681D26690BB9CA6A3CB7290F95D9E83DC6F3988FDB6A7DD6790599E2EBBC973D038EC06A1EB723A28FF"
        "AEB340493328CC6683DA653768FCAEBBE9A07B9A8E06E5DF7516485CA783DC6F7719447FBF41EDFA18BD0325CDA0FCBB0E1A87DD",
        "005100098156355476F80000AAA005000388030240E6349B0DA2A3CBA0BADBFC969FD3F6B4FB0C6AA7DD757A19744DD3D1A079"
        "1A4FCF83E6E5F1DB4D9E9F40F7B79C8E06BDCD20727A4E0FBBC76590BCEE6681B2EFBA7C0E4ACF41747419540CCBE96850D84D"
        "0695ED65799E8E4EBBCF203A3A4C9F83D26E509ACE0205DD64500B7447A7C768507A0E6ABFE565500B947FD741F7349B0D129741",
        "005100098156355476F80000AA14050003880303C2A066D8CD02B5F3A0F9DB0D",
    ]
    pdus = encode_submit("655345678", text, concat_reference=136, validity=timedelta(days=4))
    assert [p.hex for p in pdus] == expected


# ------------------------------------------------------------------------------ python-messaging [PM]

def test_pm_deliveries() -> None:
    msg = deliver("07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
    assert (msg.smsc, msg.sender, msg.text) == ("+31624000000", "+31641600986", "How are you?")
    assert msg.timestamp == datetime(2002, 8, 26, 19, 37, 41, tzinfo=UTC)
    msg = deliver("07914306073011F0040B914316709807F2000880604290224080084E2D5174901A8BAF")
    assert (msg.smsc, msg.sender, msg.text) == ("+34607003110", "+34610789702", "中兴通讯")
    msg = deliver("0791447758100650040C914497716247010000909010711423400A2050EC468B81C4733A")
    assert (msg.sender, msg.text) == ("+447917267410", "  1741 bst")
    assert msg.timestamp.astimezone(UTC) == datetime(2009, 9, 1, 16, 41, 32, tzinfo=UTC)


def test_pm_alphanumeric_senders() -> None:
    msg = deliver("07919471060040340409D0C6A733390400009060920173018093CC74595C96838C4F6772085AD6DDE4320B44"
                  "4E9741D4B03C6D7EC3E9E9B71B9474D3CB727799DEA286CFE5B9991DA6CBC3F432E85E9793CBA0F09A9EB6A7CB"
                  "72BA0B9474D3CB727799DE72D6E9FABAFB0CBAA7E56490BA4CD7D34170F91BE4ACD3F575F7794E0F9F4161F1B9"
                  "2C2F8FD1EE32DD054AA2E520E3D3991C82A8E5701B")
    assert (msg.smsc, msg.sender) == ("+491760000443", "FONIC")
    assert msg.text == ("Lieber FONIC Kunde, die Tarifoption Internet-Tagesflatrate wurde aktiviert. "
                        "Internet-Nutzung wird jetzt pro Nutzungstag abgerechnet. Ihr FONIC Team")
    msg = deliver("07919333852804000412D0F7FBDD454FB75D693A0000903002801153402BCD301E9F0605D9E971191483C140"
                  "412A35690D52832063D2F9040599A058EE05A3BD6430580E")
    assert (msg.smsc, msg.sender, msg.text) == ("+393358824000", "www.tim.it",
                                                "Maxxi Alice 100 ATTIVATA FINO AL 19/04/2009")


def test_pm_status_report_and_class0_submit() -> None:
    rep = decode_pdu("07914306073011F006270B913426565711F7012081111345400120811174054043")
    assert isinstance(rep, SmsStatusReport)
    assert (rep.smsc, rep.recipient) == ("+34607003110", "+43626575117")
    assert rep.sc_timestamp == datetime(2010, 2, 18, 11, 31, 54, tzinfo=tz(1))
    assert (rep.status, rep.failed, rep.status_text) == (0x43, True, "not obtainable")
    sub = decode_pdu("0001000B914356143254F6001006E8721E947F03")
    assert isinstance(sub, SmsSubmit)
    assert (sub.message_class, sub.text) == (0, "hey yo")


def test_pm_multipart_german_with_euro_and_group_f() -> None:
    one = deliver("07919471227210244405852122F039F101506271217180A005000319020198E9B2B82C0759DFE4B0F9ED"
                  "2EB7967537B9CC02B5D37450122D2FCB41EE303DFD7687D96537881A96A7CD6F383DFD7683F46134BBEC064DD36550DA0D22A7CBF3"
                  "721BE42CD3F5A0198B56036DCA20B8FC0D6A0A4170767D0EAAE540433A082E7F83A6E5F93CFD76BB40D7B2DB0D9AA6"
                  "CB2072BA3C2F83926EF31BE44E8FD17450BB8C9683CA")
    two = deliver("07919471227210244405852122F039F1015062712181804F050003190202E4E8309B5E7683DAFC319A"
                  "5E76B340F73D9A5D7683A6E93268FD9ED3CB6EF67B0E5AD172B19B2C2693C9602E90355D6683A6F0B007946E8382F5393BEC26BB00")
    assert one.text == ("Lieber Vodafone-Kunde, mit Ihrer nationalen Tarifoption zahlen Sie in diesem "
                        "Netz 3,45 € pro MB plus 59 Ct pro Session. Wenn Sie diese Info nicht mehr e")
    assert two.text == "rhalten möchten, wählen Sie kostenlos +4917212220. Viel Spaß im Ausland."
    assert (one.concat, two.concat) == (Concat(25, 2, 1, 8), Concat(25, 2, 2, 8))
    assert one.message_class == 1


# ------------------------------------------------------------------------------ message waiting

def test_sy_special_message_indication_without_smsc() -> None:
    msg = deliver("440B916407586704F900002010011153710406040102810200", has_smsc=False)
    assert (msg.smsc, msg.sender, msg.text) == (None, "+46708576409", "")
    assert msg.udh == bytes([0x01, 0x02, 0x81, 0x02])  # IE 0x01: fax waiting, store, 2 messages
    assert msg.timestamp.utcoffset() == timedelta(hours=10)


@pytest.mark.parametrize(("dcs", "waiting", "encoding"), [
    (0xC8, MessageWaiting(active=True, kind=0, store=False), "gsm7"),
    (0xD9, MessageWaiting(active=True, kind=1, store=True), "gsm7"),
    (0xD0, MessageWaiting(active=False, kind=0, store=True), "gsm7"),
])
def test_dcs_message_waiting_groups(dcs: int, waiting: MessageWaiting, encoding: str) -> None:
    # [MM] test_pdu3 with only its DCS octet changed to a message-waiting group (23.038 clause 4).
    pdu = MM_PDU3[:36] + f"{dcs:02X}" + MM_PDU3[38:]
    msg = deliver(pdu)
    assert (msg.waiting, msg.encoding, msg.text, msg.message_class) == (waiting, encoding, "hellohello", None)
