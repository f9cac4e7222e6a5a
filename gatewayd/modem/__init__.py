"""The modem layer: transport, framing, AT session, PDU codec and the per-device logic.

Layers, each knowing only the ones below it:

- ``transport``: opens the port (pyserial ``serial_for_url``), exclusive, with clear errors.
- ``framing``: bytes to lines and the ``> `` prompt.
- ``urc``: the table of unsolicited result codes, declared as data.
- ``session``: one command in flight, final result codes, timeouts, resync, URC routing.
- ``gsm7`` / ``pdu`` / ``reassembly``: the codec, pure functions with no I/O.
- ``device``: one modem: init, identity, signal, send, receive, USSD.
"""
