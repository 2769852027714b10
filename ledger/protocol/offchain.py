"""The signed messages no contract declares (the relay's acknowledgement and a resident's join
request), and the gas a signed forward request asks for.

They are EIP-712 like every other signed message, each under its own domain (never a
contract's, so no contract could be made to take one): ledger/signing/acks.py and
ledger/signing/joins.py say why each exists. `ledger.protocol.render` adds them to the generated
modules beside the contracts' types, so the page and the audit read them from the same place.
"""

from __future__ import annotations

from typing import Final

# (key, name, version). The relay's verifying contract is the deployment's forwarder (see
# ledger/signing/acks.py); a join request's is the Registry, whose roll it asks to be put on.
RELAY_DOMAIN: Final = ("Relay", "CommonsRelay", "1")
JOIN_DOMAIN: Final = ("Join", "CommonsJoin", "1")
DOMAINS: Final = (RELAY_DOMAIN, JOIN_DOMAIN)

ACKNOWLEDGEMENT_TYPE: Final = "Acknowledgement(bytes32 message,uint64 acceptedAt,uint64 landBy)"
JOIN_REQUEST_TYPE: Final = "JoinRequest(uint256 communityId,address resident,uint64 issuedAt)"
TYPES: Final = (ACKNOWLEDGEMENT_TYPE, JOIN_REQUEST_TYPE)

# The stored ballots an election's `countStep` reads at most, whoever runs the count (the page,
# `commons election count`, the demo): with 10 ranks a stored ballot costs a round at most
# ~700 gas to read (bench/results/gas_elections.md), so a step stays well inside its forward gas.
COUNT_STEP_BALLOTS: Final = 5_000

# The gas a resident's signed forward request may use (the request's `gas`, which the signer
# commits to). Most calls fit the default; a community's first initiative primes its co-signer
# bitmap (up to 64 words, ~1.4M gas for a roll of 14,336), so its submission asks for more; a
# count step reads up to COUNT_STEP_BALLOTS stored ballots. A secret vote's closing of the key
# generation and its finalize grow with its trustees and options (346,346 and 270,858 gas for
# 2 of 3 trustees and 3 options, bench/results/gas_secret.md); anyone may send either.
FORWARD_GAS: Final = {
    "default": 1_000_000,
    "submitInitiative": 2_000_000,
    "countStep": 5_000_000,
    "closeKeyGeneration": 5_000_000,
    "finalizeSecretVote": 3_000_000,
}
