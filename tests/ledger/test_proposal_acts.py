"""ledger.proposal_acts: what a person types becomes a proposal the contract accepts, or one
sentence saying why not; against the real contracts, a committee member's proposal opens with
the draft's schedule and bars, and its result is published only once voting has closed."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import admin, proposal_acts
from ledger.admin import AdminChain, AdminRefused, DirectSender
from ledger.deploy import Deployment
from ledger.node import rpc
from ledger.protocol.generated import BallotKind, Outcome, Roles

TEXT = "Mend the fence behind block C."


def yes_no(**changes: str) -> proposal_acts.ProposalDraft:
    given = {"period": "7d", "quorum_percent": "30", "threshold_percent": "50", **changes}
    return proposal_acts.draft(1, TEXT, multi=None, **given)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("12h", 43_200), ("7d", 604_800), ("2", 172_800)],
)
def test_a_period_is_read_in_its_unit_and_a_bare_number_in_days(text: str, seconds: int) -> None:
    assert proposal_acts.period_seconds(text) == seconds


@pytest.mark.parametrize("text", ["0", "0h", "-1d", "7w", "soon", ""])
def test_a_period_of_zero_or_unreadable_is_refused(text: str) -> None:
    with pytest.raises(AdminRefused):
        proposal_acts.period_seconds(text)


def test_percentages_become_basis_points_with_two_decimals_at_most() -> None:
    assert proposal_acts.basis_points("66.67", "threshold") == 6667
    assert proposal_acts.basis_points("0", "quorum") == 0
    for bad in ("66.666", "-1", "half"):
        with pytest.raises(AdminRefused):
            proposal_acts.basis_points(bad, "quorum")


def test_a_budget_is_read_in_minor_units_as_the_page_reads_money() -> None:
    assert proposal_acts.minor_units("1200.5") == 120_050
    assert proposal_acts.minor_units("1200,50") == 120_050
    assert proposal_acts.minor_units("7") == 700
    with pytest.raises(AdminRefused, match="not an amount"):
        proposal_acts.minor_units("12.345")


def test_a_draft_refuses_what_no_proposal_can_be() -> None:
    with pytest.raises(AdminRefused, match="text is empty"):
        proposal_acts.draft(1, " \n", multi=None, period="7d", quorum_percent="30",
                            threshold_percent="50")  # fmt: skip
    with pytest.raises(AdminRefused, match="more than the whole roll"):
        yes_no(quorum_percent="100.01")
    with pytest.raises(AdminRefused, match="can never be exceeded"):
        yes_no(threshold_percent="100")
    with pytest.raises(AdminRefused, match="both yes and no pass"):
        yes_no(threshold_percent="49.99")
    with pytest.raises(AdminRefused, match="needs its currency"):
        yes_no(budget="10")
    with pytest.raises(AdminRefused, match="not a currency code"):
        yes_no(budget="10", currency="yuan")
    multi = proposal_acts.draft(1, TEXT, multi=5, period="1h", quorum_percent="10",
                                threshold_percent="20", budget="99.99", currency="CNY")  # fmt: skip
    assert (multi.kind, multi.options, multi.threshold_bps) == (BallotKind.MultipleChoice, 5, 2000)
    assert (multi.budget, multi.currency) == (9999, b"CNY")


@pytest.fixture
def chain(w3: Web3, system: Deployment) -> AdminChain:
    return AdminChain(w3, system)


@pytest.fixture
def committee(chain: AdminChain, accounts: list[LocalAccount]) -> LocalAccount:
    """accounts[1] creates a community and puts accounts[2] on its committee and its roll, so
    a proposal can open."""
    owner, member = DirectSender(accounts[1]), accounts[2]
    done = admin.execute(chain, admin.create_community(Web3.keccak(text="acts")), owner)
    community = int(done.event["communityId"])
    admin.execute(chain, admin.grant_role(community, Roles.COMMITTEE, member.address), owner)
    admin.execute(chain, admin.grant_role(community, Roles.REGISTRAR, accounts[1].address), owner)
    admin.execute(chain, admin.update_roll(community, [member.address], [], True), owner)
    return member


def test_a_committee_member_opens_a_proposal_and_its_result_is_published_after_close(
    chain: AdminChain, w3: Web3, committee: LocalAccount
) -> None:
    before = chain.deployment.council.functions.proposalCount().call()
    cid = chain.registry.functions.communityCount().call()
    draft = proposal_acts.draft(cid, TEXT, multi=None, period="1h", quorum_percent="50",
                                threshold_percent="60")  # fmt: skip
    proposal_acts.check_draft(chain, draft)
    now = int(w3.eth.get_block("latest")["timestamp"])
    done = admin.execute(chain, proposal_acts.open_proposal(draft, now), DirectSender(committee))
    proposal = int(done.event["proposalId"])
    assert proposal == before + 1
    view = chain.deployment.council.functions.getProposal(proposal).call()
    assert view.textHash == draft.text_hash and view.proposer == committee.address
    assert (view.closesAt, view.quorumBps, view.thresholdBps) == (now + 3600, 5000, 6000)

    with pytest.raises(AdminRefused, match=f"proposal {proposal} is still open until"):
        proposal_acts.publish_result(chain, proposal)
    rpc(w3, "evm_increaseTime", [3601])
    rpc(w3, "evm_mine")
    publish = proposal_acts.publish_result(chain, proposal)
    done = admin.execute(chain, publish, DirectSender(committee))
    assert done.event["proposalId"] == proposal
    assert Outcome(done.event["outcome"]) is Outcome.NoQuorum
    with pytest.raises(AdminRefused, match="already published: NoQuorum"):
        proposal_acts.publish_result(chain, proposal)
    with pytest.raises(AdminRefused, match="there is no proposal"):
        proposal_acts.publish_result(chain, proposal + 1)


def test_a_key_off_the_committee_is_refused_before_signing(
    chain: AdminChain, w3: Web3, committee: LocalAccount, accounts: list[LocalAccount]
) -> None:
    cid = chain.registry.functions.communityCount().call()
    draft = proposal_acts.draft(cid, TEXT, multi=None, period="1d", quorum_percent="30",
                                threshold_percent="50")  # fmt: skip
    call = proposal_acts.open_proposal(draft, int(w3.eth.get_block("latest")["timestamp"]))
    with pytest.raises(AdminRefused, match=f"does not hold COMMITTEE in community {cid}"):
        admin.preflight(chain, call, accounts[3].address)


def test_a_community_without_a_roll_or_a_period_beyond_the_snapshot_is_refused(
    chain: AdminChain, accounts: list[LocalAccount]
) -> None:
    done = admin.execute(
        chain, admin.create_community(Web3.keccak(text="empty")), DirectSender(accounts[1])
    )
    empty = int(done.event["communityId"])
    draft = proposal_acts.draft(empty, TEXT, multi=None, period="7d", quorum_percent="30",
                                threshold_percent="50")  # fmt: skip
    with pytest.raises(AdminRefused, match="has no published roll"):
        proposal_acts.check_draft(chain, draft)
    long = proposal_acts.draft(empty, TEXT, multi=None, period="401d", quorum_percent="30",
                               threshold_percent="50")  # fmt: skip
    with pytest.raises(AdminRefused, match="longer than the roll snapshot is kept"):
        proposal_acts.check_draft(chain, long)
