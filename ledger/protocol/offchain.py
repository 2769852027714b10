"""The one signed message no contract declares: the relay's acknowledgement.

It is EIP-712 like every other signed message (ledger/signing/acks.py says why it exists), under
the relay's own domain; `ledger.protocol.render` adds it to the generated modules beside the
contracts' types, so the page and the audit read it from the same place.
"""

from __future__ import annotations

from typing import Final

# The domain's verifying contract is the deployment's forwarder (see ledger/signing/acks.py).
RELAY_DOMAIN: Final = ("Relay", "CommonsRelay", "1")
ACKNOWLEDGEMENT_TYPE: Final = "Acknowledgement(bytes32 message,uint64 acceptedAt,uint64 landBy)"
