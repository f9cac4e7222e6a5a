"""Final result codes and error-code tables of 3GPP TS 27.007 / 27.005, declared as data.

The session uses ``FINAL_OK`` / ``FINAL_ERRORS`` to know when a command is over. The pool uses
``cms_is_permanent`` to decide whether a failed send is worth retrying: a permanent code means this
message to this destination will never go (unknown subscriber, barred, malformed), so it fails alone
instead of blocking the queue; anything else is transient and retried with backoff, maybe elsewhere.
"""

from __future__ import annotations

FINAL_OK: frozenset[str] = frozenset({"OK", "CONNECT"})
"""Lines that end a command successfully (CONNECT only for data calls; listed so it never hangs)."""

FINAL_ERRORS: frozenset[str] = frozenset({
    "ERROR",
    "NO CARRIER",
    "NO DIALTONE",
    "BUSY",
    "NO ANSWER",
    "COMMAND NOT SUPPORT",  # Huawei / ZTE
    "COMMAND NOT SUPPORTED",
    "TOO MANY PARAMETERS",  # Huawei
    "ABORTED",
})
"""Whole lines that end a command with an error."""

FINAL_ERROR_PREFIXES: tuple[str, ...] = ("+CME ERROR:", "+CMS ERROR:", "+EXT ERROR:")
"""Prefixes of lines that end a command with a numbered (or verbose) error."""

# 27.007 clause 9.2 (+CME ERROR), plus the manufacturer-specific codes seen on common modems.
CME_ERRORS: dict[int, str] = {
    0: "phone failure",
    1: "no connection to phone",
    2: "phone-adaptor link reserved",
    3: "operation not allowed",
    4: "operation not supported",
    5: "PH-SIM PIN required",
    6: "PH-FSIM PIN required",
    7: "PH-FSIM PUK required",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    17: "SIM PIN2 required",
    18: "SIM PUK2 required",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    24: "text string too long",
    25: "invalid characters in text string",
    26: "dial string too long",
    27: "invalid characters in dial string",
    30: "no network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    40: "network personalisation PIN required",
    41: "network personalisation PUK required",
    42: "network subset personalisation PIN required",
    43: "network subset personalisation PUK required",
    44: "service provider personalisation PIN required",
    45: "service provider personalisation PUK required",
    46: "corporate personalisation PIN required",
    47: "corporate personalisation PUK required",
    50: "incorrect parameters",
    100: "unknown",
    103: "illegal MS",
    106: "illegal ME",
    107: "GPRS services not allowed",
    111: "PLMN not allowed",
    112: "location area not allowed",
    113: "roaming not allowed in this location area",
    515: "please wait, init or command processing in progress",
}

CME_BUSY: frozenset[int] = frozenset({14, 515})
"""Codes that mean "try again in a moment" (SIM busy; SIMCom / Wavecom initialisation in progress)."""

# 27.005 clause 3.2.5 (+CMS ERROR). 0-127 are RP causes (24.011 E.2), 128-255 TP-FCS (23.040 9.2.3.22).
CMS_ERRORS: dict[int, str] = {
    1: "unassigned (unallocated) number",
    8: "operator determined barring",
    10: "call barred",
    17: "network failure",
    21: "short message transfer rejected",
    22: "memory capacity exceeded",
    27: "destination out of service",
    28: "unidentified subscriber",
    29: "facility rejected",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary failure",
    42: "congestion",
    47: "resources unavailable, unspecified",
    50: "requested facility not subscribed",
    69: "requested facility not implemented",
    81: "invalid short message transfer reference value",
    95: "invalid message, unspecified",
    96: "invalid mandatory information",
    97: "message type non-existent or not implemented",
    98: "message not compatible with short message protocol state",
    99: "information element non-existent or not implemented",
    111: "protocol error, unspecified",
    127: "interworking, unspecified",
    128: "telematic interworking not supported",
    129: "short message type 0 not supported",
    130: "cannot replace short message",
    143: "unspecified TP-PID error",
    144: "data coding scheme (alphabet) not supported",
    145: "message class not supported",
    159: "unspecified TP-DCS error",
    160: "command cannot be actioned",
    161: "command unsupported",
    175: "unspecified TP-Command error",
    176: "TPDU not supported",
    192: "SC busy",
    193: "no SC subscription",
    194: "SC system failure",
    195: "invalid SME address",
    196: "destination SME barred",
    197: "SM rejected - duplicate SM",
    198: "TP-VPF not supported",
    199: "TP-VP not supported",
    208: "(U)SIM SMS storage full",
    209: "no SMS storage capability in (U)SIM",
    210: "error in MS",
    211: "memory capacity exceeded",
    212: "(U)SIM application toolkit busy",
    213: "(U)SIM data download error",
    255: "unspecified error cause",
    300: "ME failure",
    301: "SMS service of ME reserved",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    305: "invalid text mode parameter",
    310: "(U)SIM not inserted",
    311: "(U)SIM PIN required",
    312: "PH-(U)SIM PIN required",
    313: "(U)SIM failure",
    314: "(U)SIM busy",
    315: "(U)SIM wrong",
    316: "(U)SIM PUK required",
    317: "(U)SIM PIN2 required",
    318: "(U)SIM PUK2 required",
    320: "memory failure",
    321: "invalid memory index",
    322: "memory full",
    330: "SMSC address unknown",
    331: "no network service",
    332: "network timeout",
    340: "no +CNMA acknowledgement expected",
    500: "unknown error",
}

CMS_PERMANENT: frozenset[int] = frozenset({
    # The destination will never take this message: retrying only wastes the SIM's quota.
    1, 8, 10, 21, 28, 29, 30, 50, 69, 195, 196,
    # The message itself is malformed or unsupported: another modem would get the same answer.
    95, 96, 97, 99, 128, 129, 130, 143, 144, 145, 159, 176, 198, 199, 304, 305,
})
"""CMS codes after which the same message to the same number must not be retried."""


def cme_meaning(code: int) -> str:
    """The 27.007 text of a +CME ERROR code ("manufacturer specific" above 255 when unknown)."""
    if code in CME_ERRORS:
        return CME_ERRORS[code]
    return "manufacturer specific" if code >= 256 else "reserved"


def cms_meaning(code: int) -> str:
    """The 27.005 / 24.011 / 23.040 text of a +CMS ERROR code."""
    if code in CMS_ERRORS:
        return CMS_ERRORS[code]
    if code >= 512:
        return "manufacturer specific"
    return "reserved" if code < 512 else "unknown"


def cms_is_permanent(code: int) -> bool:
    """True when the failure belongs to this message and destination, not to the modem or the moment."""
    return code in CMS_PERMANENT
