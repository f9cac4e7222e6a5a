"""An emulated GSM modem and network (SMSC), for demos, tests and users' own tests."""
