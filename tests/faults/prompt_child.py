"""A gateway process that dies at the modem's ``> `` prompt: run by test_crash.py, then SIGKILLed.

It opens the port with gatewayd's own transport and session, starts ``AT+CMGS`` and, at the prompt
(where the daemon commits a part's "written" mark before the PDU goes), says so on stdout and waits
on stdin, which the parent never writes: the parent kills it there. The modem is left in text entry,
exactly as when the daemon is killed (or the power cut) between the prompt and the PDU.

    python -m tests.faults.prompt_child PORT
"""

from __future__ import annotations

import sys

from gatewayd.modem.session import AtSession
from gatewayd.modem.transport import open_port

AT_PROMPT = "at-prompt"
TPDU_LENGTH = 20


def main(port: str) -> int:
    session = AtSession(open_port(port), modem_id="crashing-host")
    session.start()
    session.command("AT+CMGF=0")

    def die_here() -> None:
        print(AT_PROMPT, flush=True)
        sys.stdin.read()  # the parent SIGKILLs us while we wait here
        raise SystemExit("the parent was meant to kill this process at the prompt")

    session.command_with_prompt(f"AT+CMGS={TPDU_LENGTH}", "00" * (TPDU_LENGTH + 1), on_prompt=die_here)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
