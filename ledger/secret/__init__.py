"""Secret ballots: exponential ElGamal on alt_bn128 with zero-knowledge proofs, the trustees'
distributed key generation and the proven threshold decryption (docs/secret-ballots.md).

One concept a module: `group` (points and scalars), `transcript` (the Fiat-Shamir hash),
`ballot`, `dkg`, `tally`, `many` (a whole vote's ballots checked for the audit); the native
library behind `group` lives in `mcl`.
"""
