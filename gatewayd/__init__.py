"""gatewayd: an on-premises SMS gateway driving a pool of GSM modems over AT commands."""

__version__ = "0.1.0"
