"""The send path: from a queued message to ``AT+CMGS`` on the right modem.

- ``dispatcher``: the one loop that decides when and where: wakes on enqueue, claims messages for idle
  modems within their rate limits, hands each to the modem's owner.
- ``pool``: the modems as the dispatcher sees them: state, rate limits, daily caps, routing.
- ``sender``: one claimed message on one modem: durable marks before each PDU, and what a failure
  means (retry later, fail alone, or unknown: never resent blindly).
- ``ratelimit``: token buckets and daily caps.
- ``backoff``: how long a transient failure waits before the next attempt.
"""
