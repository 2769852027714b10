"""Declaring a paper box, as the committee's act: the box's label (stored through the API's
/v1/texts so pages can name it; the chain keeps its keccak256) and the residents assigned to it,
sent before the election opens as a direct transaction from the member's key (the poll office
takes no relayed requests: see IPaperBoxes)."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.admin import AdminCall, AdminChain, AdminRefused, RelayApi, Signer
from ledger.hashing import checksum_address, keccak
from ledger.proposal_acts import TEXTS_PATH
from ledger.protocol.generated import ElectionState, ElectionView, Functions

MAX_BOX_VOTERS = 2000


def declare_box(
    chain: AdminChain, election_id: int, label: str, voters: Sequence[str]
) -> AdminCall:
    """The act, checked against the election as the chain has it now."""
    elections = chain.deployment.elections
    view = ElectionView(*elections.functions.getElection(election_id).call())
    if view.state != ElectionState.Pending:
        raise AdminRefused(
            f"election {election_id} opened at {view.opensAt}: boxes are declared before it opens"
        )
    if not 1 <= len(voters) <= MAX_BOX_VOTERS:
        raise AdminRefused(f"a box holds 1..{MAX_BOX_VOTERS} residents, not {len(voters)}")
    assigned = [checksum_address(v) for v in voters]
    return AdminCall(
        "poll_office",
        Functions.declareBox,
        (election_id, keccak(label.encode()), assigned),
        f"declare paper box {label!r} of election {election_id} for {len(assigned)} residents",
        Signer.ROLE,
        "PaperBoxDeclared",
        # The event names the election, not the community: the simulation judges the role.
        matches=(("electionId", election_id),),
    )


def store_label(api: RelayApi, label: str) -> None:
    """Store the box's label through the API; the hash it reports must be the one signed."""
    stored = api.post(TEXTS_PATH, {"text": label})
    expected = "0x" + keccak(label.encode()).hex()
    if str(stored.get("hash", "")).lower() != expected:
        raise AdminRefused(
            f"the API at {api.api_url} stored the label under hash {stored.get('hash')}, "
            f"not its keccak256 {expected}; nothing was signed"
        )
