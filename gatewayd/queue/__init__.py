"""The durable SQLite queue (outbox, inbox, events). Built in the gateway issue."""
