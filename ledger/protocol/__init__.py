"""The protocol, said once: what the contracts declare, read from the compiled artifacts.

- `ledger.protocol.generated`: written by `commons build` (do not edit): `Domains`, `Types`
  (EIP-712 type strings, typehashes, fields), `Roles`, the contracts' enums (`SkipReason`,
  `Outcome`, `GrantState`... with Solidity's member names), view structs as NamedTuples
  (`ProposalView`...), `Events` (topics), `Functions` (selectors), `Errors` (selectors and
  arguments), `EVENTS_BY_TOPIC`, `ERRORS_BY_SELECTOR`.
- `ledger.protocol.statuses`: the HTTP status of each custom error and relay refusal, by hand.
- `ledger.protocol.offchain`: the types no contract declares (the relay's acknowledgement, a
  resident's join request).
- `ledger.protocol.extract` (at build time) and `ledger.protocol.render` (by `commons build`).
"""
