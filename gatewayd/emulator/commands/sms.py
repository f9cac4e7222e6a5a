"""Short message service commands of 27.005: configuration, storage, sending, acknowledgement."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewayd.emulator.commands.base import CommandFailure, Deferred, Prompt, Reply, Request, cms, command
from gatewayd.emulator.sim import TEXT_NAMES, Memory, Stat, Storage, StoredMessage
from gatewayd.emulator.submission import Submission, from_pdu
from gatewayd.modem.pdu import PduError, SmsSubmit, decode_pdu, plan_text

if TYPE_CHECKING:
    from gatewayd.emulator.modem import EmulatedModem

MAX_TPDU_OCTETS = 164
"""The longest SMS-SUBMIT TPDU (a 140-octet user data field plus the longest header)."""
TEXT_STATS = {name: value for value, name in TEXT_NAMES.items()}


def _sms_ready(modem: EmulatedModem) -> None:
    if modem.cfun == 0:
        raise cms(300)


@command("+CSMS", gate="cms")
def service(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return ["+CSMS: (0,1)"]
    if request.form == "read":
        return [f"+CSMS: {modem.settings.csms},1,1,1"]
    value = request.int_arg(0)
    if value not in (0, 1):
        raise cms(303)
    modem.settings.csms = value
    return ["+CSMS: 1,1,1"]


@command("+CMGF")
def message_format(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return ["+CMGF: (0,1)"]
    if request.form == "read":
        return [f"+CMGF: {modem.settings.cmgf}"]
    value = request.int_arg(0, 0)
    if value not in (0, 1):
        raise cms(303)
    modem.settings.cmgf = value
    return []


@command("+CSCA", gate="cms")
def service_centre(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return []
    if request.form == "read":
        return [f'+CSCA: "{modem.smsc}",{145 if modem.smsc.startswith("+") else 129}']
    number = request.arg(0)
    if not number:
        raise cms(304)
    modem.smsc = number
    return []


@command("+CSMP")
def text_parameters(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return []
    if request.form == "read":
        return ["+CSMP: {},{},{},{}".format(*modem.settings.csmp)]
    current = modem.settings.csmp
    modem.settings.csmp = (
        request.int_arg(0, current[0]) or 0, request.int_arg(1, current[1]) or 0,
        request.int_arg(2, current[2]) or 0, request.int_arg(3, current[3]) or 0,
    )
    return []


CNMI_RANGES = ((0, 1, 2, 3), (0, 1, 2, 3), (0, 2), (0, 1, 2), (0, 1))


@command("+CNMI", gate="cms")
def indications(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return ["+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"]
    if request.form == "read":
        return ["+CNMI: {},{},{},{},{}".format(*modem.settings.cnmi)]
    values = [request.int_arg(i, 0) or 0 for i in range(5)]
    if len(request.args) > 5 or any(v not in allowed for v, allowed in zip(values, CNMI_RANGES, strict=True)):
        raise cms(303)
    modem.settings.cnmi = (values[0], values[1], values[2], values[3], values[4])
    if values[0] != 0:
        modem.flush_cnmi_buffer(discard=values[4] == 1)
    return []


@command("+CNMA", gate="cms")
def acknowledge(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return ["+CNMA: (0-2)"] if modem.settings.cmgf == 0 else []
    if modem.settings.csms == 1 and not modem.acknowledge():
        raise cms(340)
    modem.acknowledge()
    return []


@command("+CPMS", gate="cms")
def preferred_storage(modem: EmulatedModem, request: Request) -> Reply:
    storage = modem.storage
    if request.form == "test":
        read = ",".join(f'"{n}"' for n in Storage.NAMES)
        other = ",".join(f'"{n}"' for n in Storage.NAMES if n != "SR")
        return [f"+CPMS: ({read}),({other}),({other})"]
    if request.form == "read":
        fields = []
        for name in storage.selected:
            memory = storage.memories[name]
            fields.append(f'"{name}",{memory.used},{memory.capacity}')
        return ["+CPMS: " + ",".join(fields)]
    wanted = [arg.upper() if arg else None for arg in request.args[:3]]
    if not wanted or wanted[0] is None:
        raise cms(302)
    for position, wanted_name in enumerate(wanted):
        if wanted_name is not None and (wanted_name not in storage.memories
                                        or (wanted_name == "SR" and position > 0)):
            raise cms(302)
    for position, wanted_name in enumerate(wanted):
        if wanted_name is not None:
            storage.selected[position] = wanted_name
    numbers = []
    for selected in storage.selected:
        memory = storage.memories[selected]
        numbers.append(f"{memory.used},{memory.capacity}")
    return ["+CPMS: " + ",".join(numbers)]


# -- reading and deleting ---------------------------------------------------------------------------------


def _entry_pdu(header: str, message: StoredMessage) -> str:
    return f"{header}{message.tpdu_length}\r\n{message.pdu}"


def _text_fields(modem: EmulatedModem, message: StoredMessage) -> tuple[str, str | None]:
    """The text-mode header fields after <stat> (and the text line, for a DELIVER)."""
    f = message.fields
    if message.kind == "status-report":
        return f'6,{f["mr"]},"{f["recipient"]}",145,"{f["scts"]}","{f["dt"]}",{f["st"]}', None
    return f'"{f["sender"]}",,"{f["scts"]}"', modem.encode_text(str(f["text"]))


def _mark_read(message: StoredMessage) -> None:
    if message.stat == Stat.REC_UNREAD:
        message.stat = Stat.REC_READ


@command("+CMGR", gate="cms")
def read_message(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return []
    index = request.int_arg(0)
    memory = modem.storage.read_memory
    if index is None or not memory.valid_index(index):
        raise cms(321)
    message = memory.get(index)
    if message is None:
        return []  # an empty slot: OK and nothing, as most modems answer
    lines: list[str]
    if modem.settings.cmgf == 0:
        lines = [_entry_pdu(f"+CMGR: {int(message.stat)},,", message)]
    else:
        fields, text = _text_fields(modem, message)
        header = f'+CMGR: "{TEXT_NAMES[message.stat]}",{fields}'
        lines = [header if text is None else f"{header}\r\n{text}"]
    _mark_read(message)
    return lines


def _listing_stat(modem: EmulatedModem, request: Request) -> int:
    if modem.settings.cmgf == 0:
        value = request.int_arg(0, 0)
        if value is None or not 0 <= value <= 4:
            raise cms(302)
        return value
    name = (request.arg(0) or "REC UNREAD").upper()
    if name not in TEXT_STATS:
        raise cms(302)
    return TEXT_STATS[name]


@command("+CMGL", gate="cms")
def list_messages(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        if modem.settings.cmgf == 0:
            return ["+CMGL: (0-4)"]
        return ['+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")']
    wanted = _listing_stat(modem, request)
    memory: Memory = modem.storage.read_memory
    entries: list[str] = []
    listed: list[StoredMessage] = []
    for index, message in memory.entries():
        if wanted != 4 and int(message.stat) != wanted:
            continue
        if modem.settings.cmgf == 0:
            entries.append(_entry_pdu(f"+CMGL: {index},{int(message.stat)},,", message))
        else:
            fields, text = _text_fields(modem, message)
            header = f'+CMGL: {index},"{TEXT_NAMES[message.stat]}",{fields}'
            entries.append(header if text is None else f"{header}\r\n{text}")
        listed.append(message)
    for message in listed:
        _mark_read(message)
    return entries


DELETE_FLAGS: dict[int, frozenset[Stat]] = {
    1: frozenset({Stat.REC_READ}),
    2: frozenset({Stat.REC_READ, Stat.STO_SENT}),
    3: frozenset({Stat.REC_READ, Stat.STO_SENT, Stat.STO_UNSENT}),
    4: frozenset(Stat),
}


@command("+CMGD", gate="cms")
def delete_message(modem: EmulatedModem, request: Request) -> Reply:
    memory = modem.storage.read_memory
    if request.form == "test":
        return [f"+CMGD: (1-{memory.capacity}),(0-4)"]
    index = request.int_arg(0, 0) or 0
    flag = request.int_arg(1, 0) or 0
    if flag not in (0, 1, 2, 3, 4):
        raise cms(302)
    if flag == 0:
        if not memory.valid_index(index):
            raise cms(321)
        memory.delete(index)
    else:
        doomed = [i for i, message in memory.entries() if message.stat in DELETE_FLAGS[flag]]
        for i in doomed:
            memory.delete(i)
    if modem.network is not None:
        modem.network.storage_freed(modem)
    return []


# -- sending ----------------------------------------------------------------------------------------------


def _accept(modem: EmulatedModem, submission: Submission) -> Deferred:
    """The SMSC's answer comes after the send latency; faults are looked at when it comes."""
    if not modem.registered:
        raise cms(331)

    def complete() -> list[str]:
        faults = modem.faults
        if not modem.registered:
            raise cms(331)
        if faults.cms_error_count > 0:
            faults.cms_error_count -= 1
            raise cms(faults.cms_error_code)
        if modem.network is not None and (code := modem.network.rejection(submission.destination)):
            raise cms(code)
        mr = modem.next_mr()
        modem.stats["submits"] += 1
        if modem.network is not None:
            modem.network.accept_submit(modem, submission, mr)
        return [f"+CMGS: {mr}"]

    return Deferred(modem.send_latency, complete)


def _submit_pdu(modem: EmulatedModem, length: int, text: str) -> Reply:
    pdu_hex = "".join(text.split())
    try:
        raw = bytes.fromhex(pdu_hex)
    except ValueError:
        raise cms(304) from None
    if not raw or len(raw) < 1 + raw[0] or len(raw) - 1 - raw[0] != length:
        raise cms(304)
    try:
        decoded = decode_pdu(pdu_hex, has_smsc=True)
    except PduError:
        raise cms(304) from None
    if not isinstance(decoded, SmsSubmit):
        raise cms(304)
    return _accept(modem, from_pdu(decoded, raw[1 + raw[0]:]))


def _submit_text(modem: EmulatedModem, number: str, text: str) -> Reply:
    text = modem.decode_text(text)
    encoding, parts = plan_text(text)
    if len(parts) > 1:
        raise cms(305)  # text mode sends one message; longer ones need PDU mode
    status_report = bool(modem.settings.csmp[0] & 0x20)
    return _accept(modem, Submission(destination=number, text=text, encoding=encoding,
                                     status_report=status_report))


@command("+CMGS", gate="cms")
def send_message(modem: EmulatedModem, request: Request) -> Reply:
    if request.form == "test":
        return []
    if request.form != "set":
        raise CommandFailure("error")
    _sms_ready(modem)
    if modem.settings.cmgf == 0:
        length = request.int_arg(0)
        if length is None or not 1 <= length <= MAX_TPDU_OCTETS:
            raise cms(304)
        return Prompt(lambda text: _submit_pdu(modem, length, text))
    number = request.arg(0)
    if not number:
        raise cms(305)
    return Prompt(lambda text: _submit_text(modem, number, text), text_mode=True)
