"""The signed messages no contract declares: the relay's acknowledgement and a resident's join
request.

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
