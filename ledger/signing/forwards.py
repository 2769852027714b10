"""ERC-2771 forward requests: how a resident or committee member acts without paying gas.

They sign a `ForwardRequest` (EIP-712, OpenZeppelin's ERC2771Forwarder) for one call to one of
our contracts; any relayer submits it; the contract sees the signer as `_msgSender()`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from ledger.errors import InvalidMessage
from ledger.hashing import address_bytes
from ledger.protocol.generated import Domains, ForwardRequestData, Types
from ledger.protocol.offchain import FORWARD_GAS
from ledger.signing.digests import forward_request_hash, typed_digest
from ledger.signing.eip712 import domain_for, domain_separator, sign_typed_data

FORWARD_REQUEST_TYPES = Types.ForwardRequest.eip712_types()
DEFAULT_TTL_S = 3600


@dataclass(frozen=True)
class ForwardRequest:
    """A signed request, as the relay stores it (JSON-safe) and the forwarder takes it."""

    sender: str
    to: str
    value: int
    gas: int
    nonce: int
    deadline: int
    data: str  # 0x-hex calldata
    signature: str  # 0x-hex, 65 bytes

    def to_payload(self) -> dict[str, Any]:
        return {
            "from": self.sender,
            "to": self.to,
            "value": self.value,
            "gas": self.gas,
            "nonce": self.nonce,
            "deadline": self.deadline,
            "data": self.data,
            "signature": self.signature,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> ForwardRequest:
        try:
            return cls(
                sender=to_checksum_address(p["from"]),
                to=to_checksum_address(p["to"]),
                value=int(p.get("value", 0)),
                gas=int(p["gas"]),
                nonce=int(p["nonce"]),
                deadline=int(p["deadline"]),
                data="0x" + bytes(HexBytes(p["data"])).hex(),
                signature="0x" + bytes(HexBytes(p["signature"])).hex(),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidMessage("MalformedRequest", f"bad forward request: {exc}") from exc

    def typed_message(self) -> dict[str, Any]:
        """The EIP-712 message the sender signed."""
        return {
            "from": self.sender,
            "to": self.to,
            "value": self.value,
            "gas": self.gas,
            "nonce": self.nonce,
            "deadline": self.deadline,
            "data": HexBytes(self.data),
        }

    def as_struct(self) -> tuple[Any, ...]:
        """What the forwarder's execute and executeBatch take (a plain tuple: web3's encoder
        cannot rebuild a NamedTuple)."""
        return tuple(
            ForwardRequestData(
                from_=self.sender,
                to=self.to,
                value=self.value,
                gas=self.gas,
                deadline=self.deadline,
                data=HexBytes(self.data),
                signature=HexBytes(self.signature),
            )
        )

    def digest(self, domain: dict[str, Any]) -> bytes:
        """The EIP-712 digest the sender signed, in the forwarder's `domain`."""
        struct = forward_request_hash(
            address_bytes(self.sender),
            address_bytes(self.to),
            self.value,
            self.gas,
            self.nonce,
            self.deadline,
            bytes(HexBytes(self.data)),
        )
        return typed_digest(domain_separator(domain), struct)


def forwarder_domain(chain_id: int, forwarder: str) -> dict[str, Any]:
    """The EIP-712 domain of the deployment's forwarder."""
    name, version = Domains.CommonsForwarder
    return domain_for(name, version, chain_id, forwarder)


def sign_forward_request(
    w3: Web3,
    forwarder: Contract,
    signer: LocalAccount,
    call: ContractFunction,
    *,
    gas: int = FORWARD_GAS["default"],
    ttl_s: int = DEFAULT_TTL_S,
    nonce: int | None = None,
    deadline: int | None = None,
) -> ForwardRequest:
    """Sign `call` (e.g. council.functions.finalize(7)) for relaying through the forwarder.

    The deadline is `deadline` if given (e.g. from a chain whose clock was moved), else now +
    `ttl_s` by the wall clock."""
    unsigned = ForwardRequest(
        sender=signer.address,
        to=to_checksum_address(call.address),
        value=0,
        gas=gas,
        nonce=forwarder.functions.nonces(signer.address).call() if nonce is None else nonce,
        deadline=int(time.time()) + ttl_s if deadline is None else deadline,
        data="0x" + bytes(HexBytes(call._encode_transaction_data())).hex(),
        signature="0x",
    )
    domain = forwarder_domain(w3.eth.chain_id, forwarder.address)
    signature = sign_typed_data(
        signer, domain, FORWARD_REQUEST_TYPES, "ForwardRequest", unsigned.typed_message()
    )
    return dataclasses.replace(unsigned, signature="0x" + signature.hex())
