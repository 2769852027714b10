"""EIP-712 paper-box totals: what each of a box's two poll officers signs after counting it,
`BoxTotals(uint256 boxId,uint64[] choices,uint32[] counts,bytes32 certificateHash,address officer)`
under the poll office's domain (ledger.signing.in_person_ballots.PollOfficeDomain). `choices`
are ballot patterns encoded as online ballots are (ledger.signing.election_ballots), `counts`
the ballots carrying each; `certificateHash` is keccak256 of the closure certificate's photo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.hashing import address_bytes, checksum_address, keccak
from ledger.protocol.generated import Types
from ledger.signing.eip712 import SignatureError, domain_separator, sign_typed_data, to_compact
from ledger.signing.in_person_ballots import PollOfficeDomain


@dataclass(frozen=True)
class BoxTotals:
    box_id: int
    choices: tuple[int, ...]
    counts: tuple[int, ...]
    certificate_hash: bytes
    officer: ChecksumAddress

    def message(self) -> dict[str, Any]:
        return {
            "boxId": self.box_id,
            "choices": list(self.choices),
            "counts": list(self.counts),
            "certificateHash": self.certificate_hash,
            "officer": self.officer,
        }

    @property
    def ballots(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class SignedBoxTotals:
    totals: BoxTotals
    signature: bytes

    def call_arg(self) -> tuple[list[int], list[int], bytes, ChecksumAddress, bytes, bytes]:
        """The `SignedBoxTotals` tuple the poll office takes."""
        t = self.totals
        r, vs = to_compact(self.signature)
        return (list(t.choices), list(t.counts), t.certificate_hash, t.officer, r, vs)


def _words(values: tuple[int, ...]) -> bytes:
    return keccak(b"".join(v.to_bytes(32, "big") for v in values))


def totals_hash(totals: BoxTotals) -> bytes:
    """What names the totals whoever signs them (IPaperBoxes.totalsHash)."""
    return keccak(
        totals.box_id.to_bytes(32, "big")
        + _words(totals.choices)
        + _words(totals.counts)
        + totals.certificate_hash
    )


def box_totals_digest(totals: BoxTotals, domain: PollOfficeDomain) -> bytes:
    struct_hash = keccak(
        Types.BoxTotals.typehash
        + totals.box_id.to_bytes(32, "big")
        + _words(totals.choices)
        + _words(totals.counts)
        + totals.certificate_hash
        + bytes(12)
        + address_bytes(totals.officer)
    )
    return keccak(b"\x19\x01" + domain_separator(domain.as_dict()) + struct_hash)


def sign_box_totals(
    officer: LocalAccount, totals: BoxTotals, domain: PollOfficeDomain
) -> SignedBoxTotals:
    """Sign `totals` as `officer`, who must be the totals' officer."""
    if checksum_address(officer.address) != totals.officer:
        raise SignatureError(f"{officer.address} cannot sign as officer {totals.officer}")
    signature = sign_typed_data(
        officer,
        domain.as_dict(),
        Types.BoxTotals.eip712_types(),
        Types.BoxTotals.name,
        totals.message(),
    )
    return SignedBoxTotals(totals, signature)
