"""The gateway's privacy bookkeeping: consents, the disclosure audit, relay numbers.

The masking itself lives in `masking/` and `gateway/dispatch/disclosure.py`;
this package records what it needs and what it did:

- `consents`: `require_consent` (a `ConsentRequired` problem when the customer
  has not consented and no contract default covers the purpose), grants and
  withdrawals, each one audited in `consent_events`;
- `audit`: `record_disclosure` (paths, classes and operators, never values)
  and the data protection officer's query;
- `relays`: virtual numbers of the OEM's telephony provider bound to an order
  and a customer's number, released when the order closes;
- `pool`: the relay number pool setting (`PGW_RELAY_NUMBER_POOL`).

This module imports nothing, so `gateway.settings` can use `pool` without a cycle.
"""
