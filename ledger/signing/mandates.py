"""EIP-712 proxy mandates and proxy ballots: what a resident signs to appoint or revoke a proxy,
and what the proxy signs to vote for them.

An appointment is `Mandate(uint256 communityId,address resident,address proxy,uint8 scope,
uint256 voteId,uint256 nonce)` and a revocation `MandateRevocation(uint256 communityId,address
resident,uint256 nonce)`, both under ("CommonsMandates", "1", chain id, mandates address); the
nonce (the resident's next, `Mandates.nonceOf`) makes each count once, in order. A proxy ballot is
`ProxyBallot(uint256 proposalId,address voter,address proxy,uint8 option)` under the council's
ballot domain, signed by the proxy. All are relayed in EIP-2098 compact form (r, vs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address, keccak
from ledger.protocol.generated import Domains, MandateScope, Types
from ledger.signing.ballots import BallotDomain
from ledger.signing.digests import typed_digest
from ledger.signing.eip712 import domain_for, domain_separator, sign_typed_data, to_compact

_PAD = bytes(12)


@dataclass(frozen=True)
class MandateDomain:
    """Where appointments and revocations are valid: one Mandates contract on one chain."""

    chain_id: int
    mandates: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        return domain_for(
            Domains.Mandates.name, Domains.Mandates.version, self.chain_id, self.mandates
        )


@dataclass(frozen=True)
class Mandate:
    """A resident's appointment of `proxy` for `scope` / `vote_id` (0 with AllVotes)."""

    community_id: int
    resident: ChecksumAddress
    proxy: ChecksumAddress
    scope: MandateScope
    vote_id: int
    nonce: int

    def message(self) -> dict[str, Any]:
        return {
            "communityId": self.community_id,
            "resident": self.resident,
            "proxy": self.proxy,
            "scope": int(self.scope),
            "voteId": self.vote_id,
            "nonce": self.nonce,
        }


@dataclass(frozen=True)
class Revocation:
    """A resident's revocation of their live mandate in a community."""

    community_id: int
    resident: ChecksumAddress
    nonce: int

    def message(self) -> dict[str, Any]:
        return {"communityId": self.community_id, "resident": self.resident, "nonce": self.nonce}


@dataclass(frozen=True)
class ProxyBallot:
    """A proxy's ballot on `option` of `proposal_id`, counted for `voter`."""

    proposal_id: int
    voter: ChecksumAddress
    proxy: ChecksumAddress
    option: int

    def message(self) -> dict[str, Any]:
        return {
            "proposalId": self.proposal_id,
            "voter": self.voter,
            "proxy": self.proxy,
            "option": self.option,
        }


@dataclass(frozen=True)
class Signed:
    """A signed message's 65-byte signature (r ‖ s ‖ v) and EIP-712 digest."""

    signature: bytes
    digest: bytes

    @property
    def compact(self) -> tuple[bytes, bytes]:
        return to_compact(self.signature)


def make_mandate(
    community_id: int, resident: str, proxy: str, scope: MandateScope, vote_id: int, nonce: int
) -> Mandate:
    return Mandate(
        community_id, checksum_address(resident), checksum_address(proxy), scope, vote_id, nonce
    )


def make_proxy_ballot(proposal_id: int, voter: str, proxy: str, option: int) -> ProxyBallot:
    return ProxyBallot(proposal_id, checksum_address(voter), checksum_address(proxy), option)


def mandate_parts(
    mandate: Mandate, domain: MandateDomain
) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    return domain.as_dict(), Types.Mandate.eip712_types(), Types.Mandate.name, mandate.message()


def revocation_parts(
    revocation: Revocation, domain: MandateDomain
) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    types = Types.MandateRevocation.eip712_types()
    return domain.as_dict(), types, Types.MandateRevocation.name, revocation.message()


def proxy_ballot_parts(
    ballot: ProxyBallot, domain: BallotDomain
) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any]]:
    types = Types.ProxyBallot.eip712_types()
    return domain.as_dict(), types, Types.ProxyBallot.name, ballot.message()


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def mandate_digest(separator: bytes, m: Mandate) -> bytes:
    """The digest a resident signs to appoint (laid out by hand, as ledger.signing.digests)."""
    fields = _word(m.community_id) + _PAD + address_bytes(m.resident) + _PAD
    fields += address_bytes(m.proxy) + _word(int(m.scope)) + _word(m.vote_id) + _word(m.nonce)
    return typed_digest(separator, keccak(Types.Mandate.typehash + fields))


def revocation_digest(separator: bytes, v: Revocation) -> bytes:
    """The digest a resident signs to revoke."""
    fields = _word(v.community_id) + _PAD + address_bytes(v.resident) + _word(v.nonce)
    return typed_digest(separator, keccak(Types.MandateRevocation.typehash + fields))


def proxy_ballot_digest(separator: bytes, b: ProxyBallot) -> bytes:
    """The digest a proxy signs and ProxyBallotCast carries."""
    fields = _word(b.proposal_id) + _PAD + address_bytes(b.voter) + _PAD
    fields += address_bytes(b.proxy) + _word(b.option)
    return typed_digest(separator, keccak(Types.ProxyBallot.typehash + fields))


def sign_mandate(account: LocalAccount, mandate: Mandate, domain: MandateDomain) -> Signed:
    """Appoint, as `account` (the resident)."""
    signature = sign_typed_data(account, *mandate_parts(mandate, domain))
    return Signed(signature, mandate_digest(domain_separator(domain.as_dict()), mandate))


def sign_revocation(account: LocalAccount, revocation: Revocation, domain: MandateDomain) -> Signed:
    """Revoke, as `account` (the resident)."""
    signature = sign_typed_data(account, *revocation_parts(revocation, domain))
    return Signed(signature, revocation_digest(domain_separator(domain.as_dict()), revocation))


def sign_proxy_ballot(account: LocalAccount, ballot: ProxyBallot, domain: BallotDomain) -> Signed:
    """Vote for `ballot.voter`, as `account` (the proxy)."""
    signature = sign_typed_data(account, *proxy_ballot_parts(ballot, domain))
    return Signed(signature, proxy_ballot_digest(domain_separator(domain.as_dict()), ballot))


def mandate_call_arg(mandate: Mandate, signed: Signed) -> tuple[Any, ...]:
    """The `SignedMandate` struct tuple `appoint` takes."""
    r, vs = signed.compact
    return (*mandate.message().values(), r, vs)


def revocation_call_arg(revocation: Revocation, signed: Signed) -> tuple[Any, ...]:
    """The `SignedRevocation` struct tuple `revoke` takes."""
    r, vs = signed.compact
    return (*revocation.message().values(), r, vs)


def proxy_ballot_call_arg(ballot: ProxyBallot, signed: Signed) -> tuple[Any, ...]:
    """The `SignedProxyBallot` tuple `castProxyBallots` takes: (voter, proxy, option, r, vs)."""
    r, vs = signed.compact
    return (ballot.voter, ballot.proxy, ballot.option, r, vs)
