"""Webhooks out: signed JSON POSTs to the LAN application, from the durable outbox table.

The rows are written by the queue in the transaction of the change they report (routes.py builds
their payloads); one deliverer thread (deliverer.py) posts what is due, signed (signing.py), and
retries with backoff until the endpoint answers 2xx or the attempts run out. Nothing here imports
the queue at module level except the deliverer, so the queue can import the pure parts.
"""
