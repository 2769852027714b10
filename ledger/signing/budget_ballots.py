"""EIP-712 budget ballots: what a resident signs, and the compact form a relayer submits.

A ballot is `BudgetBallot(uint256 roundId,address voter,uint256 projects)` under the domain
("CommonsBudget", "1", chain id, ParticipatoryBudget address); `projects` is the bitmap of chosen
projects (bit i = project i in submission order), the same under both ballot rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address, keccak
from ledger.protocol.generated import Domains, Types
from ledger.signing.eip712 import (
    SignatureError,
    domain_for,
    domain_separator,
    sign_typed_data,
    to_compact,
)


@dataclass(frozen=True)
class BudgetBallot:
    round_id: int
    voter: ChecksumAddress
    projects: int

    def message(self) -> dict[str, Any]:
        return {"roundId": self.round_id, "voter": self.voter, "projects": self.projects}


@dataclass(frozen=True)
class BudgetDomain:
    """Where a budget ballot is valid: one ParticipatoryBudget contract on one chain."""

    chain_id: int
    budget: ChecksumAddress

    def as_dict(self) -> dict[str, Any]:
        domain = Domains.ParticipatoryBudget
        return domain_for(domain.name, domain.version, self.chain_id, self.budget)


@dataclass(frozen=True)
class SignedBudgetBallot:
    ballot: BudgetBallot
    signature: bytes
    digest: bytes

    def call_arg(self) -> tuple[ChecksumAddress, int, bytes, bytes]:
        """The `SignedBudgetBallot` tuple `castBudgetBallots` takes: (voter, projects, r, vs)."""
        r, vs = to_compact(self.signature)
        return (self.ballot.voter, self.ballot.projects, r, vs)


def budget_ballot_digest(ballot: BudgetBallot, domain: BudgetDomain) -> bytes:
    separator = domain_separator(domain.as_dict())
    struct_hash = keccak(
        Types.BudgetBallot.typehash
        + ballot.round_id.to_bytes(32, "big")
        + bytes(12)
        + address_bytes(ballot.voter)
        + ballot.projects.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def sign_budget_ballot(
    account: LocalAccount, ballot: BudgetBallot, domain: BudgetDomain
) -> SignedBudgetBallot:
    """Sign `ballot` as `account`, which must be the ballot's voter."""
    if checksum_address(account.address) != ballot.voter:
        raise SignatureError(f"{account.address} cannot sign a ballot of {ballot.voter}")
    types = Types.BudgetBallot.eip712_types()
    signature = sign_typed_data(
        account, domain.as_dict(), types, Types.BudgetBallot.name, ballot.message()
    )
    return SignedBudgetBallot(ballot, signature, budget_ballot_digest(ballot, domain))
