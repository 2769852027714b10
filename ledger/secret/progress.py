"""Each trustee's steps in one secret vote, as its events record them: what anyone reads to see
whose part of the key generation or of the tally is still to come (the API from its index,
`commons secret show` from the node)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.hashing import checksum_address
from ledger.protocol.generated import SecretDisqualifyReason

# The events read, each with the argument that names the trustee.
EVENTS: Mapping[str, str] = {
    "CommunicationKeyRegistered": "trustee",
    "SharesDealt": "dealer",
    "DealComplained": "dealer",
    "ComplaintAnswered": "dealer",
    "TrusteeDisqualified": "trustee",
    "PartialDecryptionPublished": "trustee",
}


@dataclass(frozen=True)
class TrusteeProgress:
    trustee: int  # 1-based
    address: str
    key_registered: bool
    dealt: bool
    complaints_against: int
    complaints_answered: int
    disqualified: str | None  # a SecretDisqualifyReason's name
    published_partial: bool


def trustee_progress(
    trustees: Sequence[str], events: Mapping[str, Iterable[Mapping[str, Any]]]
) -> list[TrusteeProgress]:
    """Each of `trustees` (in order) from one vote's events: name -> their arguments."""
    count = {
        name: Counter(int(args[field]) for args in events.get(name, ()))
        for name, field in EVENTS.items()
        if name != "TrusteeDisqualified"
    }
    disqualified = {
        int(args["trustee"]): SecretDisqualifyReason(int(args["reason"])).name
        for args in events.get("TrusteeDisqualified", ())
    }
    return [
        TrusteeProgress(
            trustee=k,
            address=checksum_address(address),
            key_registered=count["CommunicationKeyRegistered"][k] > 0,
            dealt=count["SharesDealt"][k] > 0,
            complaints_against=count["DealComplained"][k],
            complaints_answered=count["ComplaintAnswered"][k],
            disqualified=disqualified.get(k),
            published_partial=count["PartialDecryptionPublished"][k] > 0,
        )
        for k, address in enumerate(trustees, start=1)
    ]


def describe(p: TrusteeProgress) -> str:
    """One trustee's steps in a line, as `commons secret show` prints them."""
    if p.disqualified is not None:
        return f"trustee {p.trustee} {p.address}: disqualified ({p.disqualified})"
    done = [
        "key registered" if p.key_registered else "no key yet",
        "shares dealt" if p.dealt else "no shares dealt yet",
    ]
    if p.complaints_against:
        done.append(f"{p.complaints_against} complaints, {p.complaints_answered} answered")
    if p.published_partial:
        done.append("decryption part published")
    return f"trustee {p.trustee} {p.address}: {', '.join(done)}"
