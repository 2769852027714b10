"""EIP-712 election proxy ballots: what a resident's proxy signs to cast the resident's ranked
or approval ballot.

A proxy ballot is `ElectionProxyBallot(uint256 electionId,address voter,address proxy,uint64
choices)` under ("CommonsElectionProxies", "1", chain id, election proxies address), signed by
the proxy; `choices` is encoded as an election ballot's (ledger.signing.election_ballots). It is
relayed in EIP-2098 compact form (r, vs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address, keccak
from ledger.protocol.generated import Domains, Types
from ledger.signing.digests import typed_digest
from ledger.signing.eip712 import domain_for, domain_separator, sign_typed_data
from ledger.signing.mandates import Signed

_PAD = bytes(12)


@dataclass(frozen=True)
class ElectionProxyDomain:
    """Where an election proxy ballot is valid: one ElectionProxies contract on one chain."""

    chain_id: int
    election_proxies: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        domain = Domains.ElectionProxies
        return domain_for(domain.name, domain.version, self.chain_id, self.election_proxies)


@dataclass(frozen=True)
class ElectionProxyBallot:
    election_id: int
    voter: ChecksumAddress
    proxy: ChecksumAddress
    choices: int

    def message(self) -> dict[str, Any]:
        return {
            "electionId": self.election_id,
            "voter": self.voter,
            "proxy": self.proxy,
            "choices": self.choices,
        }


def make_election_proxy_ballot(
    election_id: int, voter: str, proxy: str, choices: int
) -> ElectionProxyBallot:
    return ElectionProxyBallot(
        election_id, checksum_address(voter), checksum_address(proxy), choices
    )


def election_proxy_ballot_digest(separator: bytes, b: ElectionProxyBallot) -> bytes:
    """The digest the proxy signs (laid out by hand, as ledger.signing.digests)."""
    fields = b.election_id.to_bytes(32, "big") + _PAD + address_bytes(b.voter)
    fields += _PAD + address_bytes(b.proxy) + b.choices.to_bytes(32, "big")
    return typed_digest(separator, keccak(Types.ElectionProxyBallot.typehash + fields))


def sign_election_proxy_ballot(
    account: LocalAccount, ballot: ElectionProxyBallot, domain: ElectionProxyDomain
) -> Signed:
    """Cast `ballot.voter`'s ballot, as `account` (the proxy)."""
    types = Types.ElectionProxyBallot.eip712_types()
    name = Types.ElectionProxyBallot.name
    signature = sign_typed_data(account, domain.as_dict(), types, name, ballot.message())
    separator = domain_separator(domain.as_dict())
    return Signed(signature, election_proxy_ballot_digest(separator, ballot))


def election_proxy_ballot_call_arg(ballot: ElectionProxyBallot, signed: Signed) -> tuple[Any, ...]:
    """The `SignedElectionProxyBallot` tuple: (voter, proxy, choices, r, vs)."""
    r, vs = signed.compact
    return (ballot.voter, ballot.proxy, ballot.choices, r, vs)
