"""The audit of proposals decided by secret ballot, fed events no honest Council emits (what a
swapped contract or a hand-set storage word could produce): a link to another community's vote,
to a vote with another question, times or roll, by a stranger, after the opening or twice; a
finalize before the vote's tally or on another tally; an open ballot counted. Each is named; an
honest link and finalize audit clean, and so does a secret proposal run on the session chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.audit import recount
from ledger.audit.auditor import AuditOptions, run_audit
from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted
from ledger.audit.secret_proposals import SECRET_TALLY_GRACE
from ledger.audit.state import AuditState, Community, Member, Proposal, SecretVote
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess
from ledger.protocol.generated import BallotKind, Outcome, Roles
from tests.audit.conftest import audit_data_dir
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    ANSWERS,
    CHALLENGES,
    VOTING,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.contracts.conftest import Clock, signer_keys

COMMITTEE, STRANGER, VOTER = b"\xcc" * 20, b"\x55" * 20, b"\x77" * 20
CID, OTHER_CID = 1, 2
PID, VID = 7, 3
TEXT = b"\x44" * 32
OPENS, CLOSES = 1_000, 5_000


def _ctx() -> Ctx:
    state = AuditState(next_block=0)
    for cid in (CID, OTHER_CID):
        community = Community(cid, COMMITTEE)
        community.roles["COMMITTEE"].add(COMMITTEE)
        community.members[VOTER] = Member(0, [[1, 0]])
        state.communities[cid] = community
    p = Proposal(
        PID, CID, COMMITTEE, TEXT, BallotKind.SecretYesNoAbstain, 3, OPENS, CLOSES,
        5000, 5000, 0, b"\0\0\0", 1, 10, 1, "",
    )  # fmt: skip
    p.tally, p.event_tally = [0, 0, 0], [0, 0, 0]
    state.proposals[PID] = p
    state.secret_votes[VID] = _vote(VID, CID)
    return Ctx(
        state=state,
        chain_id=31337,
        contracts={"council": b"\xc0" * 20, "timebank": b"\x7b" * 20},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _vote(vid: int, cid: int, **kw: Any) -> SecretVote:
    fields: dict[str, Any] = {
        "id": vid,
        "community": cid,
        "options": 3,
        "question": TEXT,
        "trustees": [],
        "threshold": 2,
        "schedule": [100, 200, 300, 400, OPENS, CLOSES, CLOSES + 600],
        "roll_version": 1,
        "aggregate": [],
    }
    fields.update(kw)
    return SecretVote(**fields)


def _call(actor: bytes, timestamp: int) -> Call:
    return Call(1, timestamp, "0x" + "11" * 32, 0, actor, b"\xc0" * 20, None, [], "tx")


def _link(ctx: Ctx, vid: int = VID, actor: bytes = COMMITTEE, at: int = OPENS - 1) -> None:
    ev = {"proposalId": PID, "voteId": vid, "communityId": CID, "linker": actor}
    recount.handle_event(
        ctx, _call(actor, at), Emitted("linkSecretVote", None, "SecretVoteLinked", ev), None
    )  # type: ignore[arg-type]


def _finalize(
    ctx: Ctx, tally: list[int], outcome: Outcome, winner: int = 255, at: int = CLOSES + 700
) -> None:
    ev = {
        "proposalId": PID,
        "outcome": int(outcome),
        "tally": tally,
        "turnout": sum(tally),
        "winningOption": winner,
    }
    emitted = Emitted("finalize", None, "ProposalFinalized", ev)
    recount.handle_event(ctx, _call(STRANGER, at), emitted, None)  # type: ignore[arg-type]


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


def test_a_matching_link_and_a_finalize_on_the_secret_tally_audit_clean() -> None:
    ctx = _ctx()
    _link(ctx)
    ctx.state.secret_votes[VID].key_state = "fixed"
    ctx.state.secret_votes[VID].tally = [4, 1, 2]
    _finalize(ctx, [4, 1, 2], Outcome.Passed, 0)
    assert ctx.findings == []
    assert ctx.state.proposals[PID].secret_vote == VID
    assert ctx.state.proposals[PID].tally == [4, 1, 2]


# The vote's challenge window closes at CLOSES + 600 (_vote's schedule).
NEVER_PUBLISHED_FROM = CLOSES + 600 + SECRET_TALLY_GRACE


def test_a_vote_without_a_tally_past_the_grace_leaves_its_proposal_not_decided_cleanly() -> None:
    ctx = _ctx()
    _link(ctx)
    ctx.state.secret_votes[VID].key_state = "fixed"
    _finalize(ctx, [0, 0, 0], Outcome.TallyNeverPublished, at=NEVER_PUBLISHED_FROM)
    assert ctx.findings == []
    assert ctx.state.proposals[PID].outcome == Outcome.TallyNeverPublished


def test_not_decided_before_the_grace_or_over_a_published_tally_is_named() -> None:
    early = _ctx()
    _link(early)
    early.state.secret_votes[VID].key_state = "fixed"
    _finalize(early, [0, 0, 0], Outcome.TallyNeverPublished, at=NEVER_PUBLISHED_FROM - 1)
    assert "council.secret_tally" in _rules(early) and "council.outcome" in _rules(early)
    published = _ctx()
    _link(published)
    published.state.secret_votes[VID].key_state = "fixed"
    published.state.secret_votes[VID].tally = [4, 1, 2]
    _finalize(published, [0, 0, 0], Outcome.TallyNeverPublished, at=NEVER_PUBLISHED_FROM)
    assert _rules(published) == ["council.tally", "council.outcome"]


def test_a_link_to_another_communitys_vote_is_named() -> None:
    ctx = _ctx()
    ctx.state.secret_votes[9] = _vote(9, OTHER_CID)
    _link(ctx, vid=9)
    assert _rules(ctx) == ["council.secret_link"]
    assert "community 2, not 1" in ctx.findings[0].found


def test_a_link_to_a_vote_on_another_question_is_named() -> None:
    ctx = _ctx()
    ctx.state.secret_votes[9] = _vote(9, CID, question=b"\x01" * 32)
    _link(ctx, vid=9)
    assert _rules(ctx) == ["council.secret_link"]
    assert "not the text hash" in ctx.findings[0].found


def test_a_link_to_a_vote_with_other_times_or_roll_is_named() -> None:
    for vote in (
        _vote(9, CID, schedule=[100, 200, 300, 400, OPENS + 1, CLOSES, CLOSES + 600]),
        _vote(9, CID, roll_version=2),
        _vote(9, CID, options=4),
    ):
        ctx = _ctx()
        ctx.state.secret_votes[9] = vote
        _link(ctx, vid=9)
        assert _rules(ctx) == ["council.secret_link"], vote


def test_a_link_by_a_stranger_after_the_opening_or_twice_is_named() -> None:
    for kw in ({"actor": STRANGER}, {"at": OPENS}):
        ctx = _ctx()
        _link(ctx, **kw)  # type: ignore[arg-type]
        assert "council.secret_link" in _rules(ctx), kw
    ctx = _ctx()
    _link(ctx)
    _link(ctx)
    assert _rules(ctx) == ["council.secret_link"]
    assert "already decided" in ctx.findings[0].found


def test_a_vote_linked_to_two_proposals_is_named() -> None:
    ctx = _ctx()
    _link(ctx)
    twin = ctx.state.proposals[PID]
    ctx.state.proposals[PID + 1] = Proposal(**{**twin.__dict__, "id": PID + 1, "secret_vote": 0})
    ev = {"proposalId": PID + 1, "voteId": VID, "communityId": CID, "linker": COMMITTEE}
    emitted = Emitted("linkSecretVote", None, "SecretVoteLinked", ev)
    recount.handle_event(ctx, _call(COMMITTEE, OPENS - 1), emitted, None)  # type: ignore[arg-type]
    assert _rules(ctx) == ["council.secret_link"]
    assert f"already decides proposal {PID}" in ctx.findings[0].found


def test_a_finalize_before_the_secret_tally_is_named() -> None:
    ctx = _ctx()
    _link(ctx)
    ctx.state.secret_votes[VID].key_state = "fixed"
    _finalize(ctx, [0, 0, 0], Outcome.NoQuorum)
    assert _rules(ctx) == ["council.secret_tally"]


def test_a_finalize_on_another_tally_than_the_secret_one_is_named() -> None:
    ctx = _ctx()
    _link(ctx)
    ctx.state.secret_votes[VID].key_state = "fixed"
    ctx.state.secret_votes[VID].tally = [1, 5, 0]
    _finalize(ctx, [5, 1, 0], Outcome.Passed, 0)
    assert set(_rules(ctx)) == {"council.tally", "council.outcome"}


def test_a_secret_proposal_without_a_vote_or_with_a_failed_key_is_decided_on_nothing() -> None:
    ctx = _ctx()
    _finalize(ctx, [0, 0, 0], Outcome.NoQuorum)
    assert ctx.findings == []
    ctx = _ctx()
    _link(ctx)
    ctx.state.secret_votes[VID].key_state = "failed"
    _finalize(ctx, [0, 0, 0], Outcome.NoQuorum)
    assert ctx.findings == []


def test_an_open_ballot_counted_on_a_secret_proposal_is_named() -> None:
    ctx = _ctx()
    assert recount.RULE_FOR_SKIP[recount.SkipReason.SecretBallotsOnly] == "council.secret_ballot"
    p = ctx.state.proposals[PID]
    assert recount._judge(ctx, p, VOTER, 0, OPENS + 1, 0) == recount.SkipReason.SecretBallotsOnly


# ------------------------------------------------------------------ on the session chain


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory: pytest.TempPathFactory, build_cache: Path) -> Path:
    return audit_data_dir(tmp_path_factory.mktemp("audit-secret-proposal"), build_cache)


def test_a_secret_proposal_decided_by_its_vote_audits_clean(
    w3: Web3,
    anvil: AnvilProcess,
    system: Deployment,
    settings: Settings,
    audit_dir: Path,
    accounts: list[LocalAccount],
) -> None:
    registry = RegistryContract(w3, system.registry)
    admin, committee = accounts[0], accounts[1]
    community = registry.create_community(admin, Web3.keccak(text="secret proposal audit"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    voters = signer_keys(4, "secret-proposal-audit")
    registry.update_roll(admin, community, [v.address for v in voters])
    secret, council = SecretBallotContract(w3, system.secret), CouncilContract(w3, system.council)
    clock = Clock(w3)
    trustees = [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]
    params = SecretVoteParams(community, tuple(t.account.address for t in trustees), 2, clock.now())
    vid = secret.open_vote(committee, params)
    pid = council.open_proposal(
        committee,
        ProposalParams(
            community, params.question_hash, params.start + ANSWERS, params.closes_at,
            BallotKind.SecretYesNoAbstain, quorum_bps=5000,
        ),
    )  # fmt: skip
    council.link_secret_vote(committee, pid, vid)
    secret.run_key_generation(vid, trustees, clock)
    ballots = [
        secret.sign(v, vid, secret.ballot_words(vid, v.address, c))
        for v, c in zip(voters, [0, 0, 1], strict=False)
    ]
    secret.cast(accounts[9], vid, ballots)
    clock.advance(VOTING + CHALLENGES)
    for t in trustees[:2]:
        secret.publish(vid, t)
    secret.finalize(accounts[9], vid, secret.tally(vid, trustees[:2]))
    assert council.finalize(accounts[9], pid) is Outcome.Passed

    result = run_audit(
        AuditOptions(
            rpc_url=anvil.url,
            record=system.record,
            settings=settings.model_copy(update={"data_dir": audit_dir}),
            resume=False,
        )
    )
    assert result.findings == []
    (row,) = [p for p in result.report["proposals"] if p["id"] == pid]
    assert (row["kind"], row["secret_vote"]) == ("SecretYesNoAbstain", vid)
    assert row["recount_tally"] == [2, 1, 0] and row["recount_outcome"] == "Passed"
