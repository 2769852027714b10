"""ParticipatoryBudget: opening rules, project submission (direct and through the forwarder),
ineligibility, relayed bitmap ballots (every rule both ways, as skip reasons, in their order),
the on-chain selection (passing over what no longer fits, ties), the grants it opens in the
CommunityFund and their payout on the N-of-M path, and milestones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import (
    BudgetRoundState,
    BudgetRule,
    BudgetSkipReason,
    Domains,
    Errors,
    Roles,
    Types,
)
from ledger.signing.eip712 import domain_for, typed_data
from ledger.signing.forwards import sign_forward_request
from ledger.signing.secp256k1 import HALF_N
from ledger.tx import send
from tests.contract_wrappers.budget import BudgetContract, RoundParams, bitmap
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, signer_keys

R = BudgetSkipReason
SUBMISSION_S = 1_000
VOTING_S = 1_000
FUND = 1_000_000


@dataclass(frozen=True)
class Ward:
    """accounts[0] admin and registrar; accounts[1], [2] committee; accounts[3:6] funded
    residents (submit directly); `signers` residents who only sign; accounts[9] on no roll."""

    id: int
    admin: LocalAccount
    committee: tuple[LocalAccount, LocalAccount]
    proposers: tuple[LocalAccount, ...]
    signers: tuple[LocalAccount, ...]
    outsider: LocalAccount


@pytest.fixture
def budget(w3: Web3, system: Deployment) -> BudgetContract:
    return BudgetContract(w3, system.budget, system.fund)


def make_ward(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], *, income: int = FUND
) -> Ward:
    registry = RegistryContract(w3, system.registry)
    admin = accounts[0]
    ward_id = registry.create_community(admin, b"\x77" * 32)
    registry.grant_role(admin, ward_id, Roles.REGISTRAR, admin.address)
    committee = (accounts[1], accounts[2])
    for member in committee:
        registry.grant_role(admin, ward_id, Roles.COMMITTEE, member.address)
    proposers = tuple(accounts[3:6])
    signers = tuple(signer_keys(12, "ward"))
    registry.update_roll(admin, ward_id, [a.address for a in proposers + signers])
    fund = system.fund.functions
    if income:
        send(w3, committee[0], fund.recordIncome(ward_id, 0, income, b"CNY", b"\x01" * 32))
    send(w3, admin, fund.setApprovalThreshold(ward_id, 1))
    return Ward(ward_id, admin, committee, proposers, signers, accounts[9])


@pytest.fixture
def ward(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Ward:
    return make_ward(w3, system, accounts)


OpenRound = Callable[..., int]


@pytest.fixture
def open_round(budget: BudgetContract, ward: Ward, clock: Clock) -> OpenRound:
    """Open a round in `ward`: submissions from now for SUBMISSION_S, then voting for VOTING_S;
    knapsack, budget 1,000 CNY, 1..256 projects, unless overridden."""

    def open_(**overrides: object) -> int:
        now = clock.now()
        fields: dict[str, object] = {
            "community_id": ward.id,
            "submission_opens_at": now,
            "submission_closes_at": now + SUBMISSION_S,
            "voting_opens_at": now + SUBMISSION_S,
            "voting_closes_at": now + SUBMISSION_S + VOTING_S,
        }
        fields.update(overrides)
        return budget.open_round(ward.committee[0], RoundParams(**fields))  # type: ignore[arg-type]

    return open_


def _rule(call: Callable[[], object]) -> str:
    with pytest.raises(ContractRuleBroken) as broken:
        call()
    return broken.value.error


def _with_projects(
    budget: BudgetContract, ward: Ward, round_id: int, costs: list[int]
) -> list[int]:
    proposers = ward.proposers
    return [
        budget.submit(proposers[i % len(proposers)], round_id, cost, f"p{i}".encode())
        for i, cost in enumerate(costs)
    ]


def _vote(budget: BudgetContract, ward: Ward, round_id: int, ballots: list[int]) -> None:
    """Each signer in turn casts the next bitmap of `ballots` (all expected to count)."""
    signed = [budget.sign(v, round_id, b) for v, b in zip(ward.signers, ballots, strict=False)]
    batch = budget.cast(ward.admin, round_id, signed)
    assert batch.skipped == ()


def reference_selection(
    votes: list[int], costs: list[int], ineligible: int, budget: int
) -> list[tuple[int, int, int, int, bool]]:
    """The rule of IParticipatoryBudget, in plain Python: (index, votes, cost, remaining, taken)."""
    walked = [i for i in range(len(costs)) if votes[i] > 0 and not ineligible >> i & 1]
    walked.sort(key=lambda i: (-votes[i], costs[i], i))
    remaining = budget
    steps = []
    for i in walked:
        taken = costs[i] <= remaining
        if taken:
            remaining -= costs[i]
        steps.append((i, votes[i], costs[i], remaining, taken))
    return steps


# ---------------------------------------------------------------- opening


def test_only_a_committee_member_opens_a_round(
    budget: BudgetContract, ward: Ward, clock: Clock
) -> None:
    now = clock.now()
    params = RoundParams(ward.id, now, now + 60, now + 60, now + 120)
    assert _rule(lambda: budget.open_round(ward.proposers[0], params)) == "NotCommittee"
    round_id = budget.open_round(ward.committee[1], params)
    view = budget.round(round_id)
    assert view.opener == ward.committee[1].address
    assert view.state == BudgetRoundState.Submission
    assert view.rollSize == len(ward.proposers) + len(ward.signers)
    assert (view.budget, view.currency, view.rule) == (1_000, b"CNY", BudgetRule.Knapsack)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"text_hash": b"\x00" * 32}, "MissingTextHash"),
        ({"budget": 0}, "InvalidBudget"),
        ({"budget": 2**96}, "InvalidBudget"),
        ({"currency": b"cny"}, "InvalidBudget"),
        ({"currency": b"EUR"}, "CurrencyMismatch"),
        ({"min_projects": 0}, "InvalidProjectLimits"),
        ({"min_projects": 4, "max_projects": 3}, "InvalidProjectLimits"),
        ({"max_projects": 257}, "InvalidProjectLimits"),
        ({"submission_closes_at": 0}, "InvalidRoundSchedule"),
        ({"voting_opens_at": 500}, "InvalidRoundSchedule"),
        ({"voting_closes_at": SUBMISSION_S}, "InvalidRoundSchedule"),
        ({"voting_closes_at": 401 * 86_400}, "InvalidRoundSchedule"),
    ],
)
def test_opening_refused_when_a_rule_is_broken(
    budget: BudgetContract, ward: Ward, clock: Clock, overrides: dict[str, object], error: str
) -> None:
    now = clock.now()
    fields: dict[str, object] = {
        "community_id": ward.id,
        "submission_opens_at": now - 10,
        "submission_closes_at": now + SUBMISSION_S,
        "voting_opens_at": now + SUBMISSION_S,
        "voting_closes_at": now + SUBMISSION_S + VOTING_S,
    }
    # Times in the overrides are offsets from now.
    fields.update({k: now + v if k.endswith("_at") else v for k, v in overrides.items()})  # type: ignore[operator]
    params = RoundParams(**fields)  # type: ignore[arg-type]
    assert _rule(lambda: budget.open_round(ward.committee[0], params)) == error


def test_opening_refused_before_the_fund_has_a_currency(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], budget: BudgetContract, clock: Clock
) -> None:
    bare = make_ward(w3, system, accounts, income=0)
    now = clock.now()
    params = RoundParams(bare.id, now, now + 60, now + 60, now + 120)
    assert _rule(lambda: budget.open_round(bare.committee[0], params)) == "CurrencyNotSet"


def test_round_state_follows_the_windows_and_the_selection(
    budget: BudgetContract, ward: Ward, clock: Clock
) -> None:
    now = clock.now()
    round_id = budget.open_round(
        ward.committee[0], RoundParams(ward.id, now + 500, now + 1_500, now + 2_500, now + 3_500)
    )
    states = []
    for step in (0, 1_000, 1_000, 1_000, 1_000):
        clock.advance(step)
        states.append(budget.round(round_id).state)
    assert states == [
        BudgetRoundState.Pending,
        BudgetRoundState.Submission,
        BudgetRoundState.Review,
        BudgetRoundState.Voting,
        BudgetRoundState.Closed,
    ]
    budget.select(ward.admin, round_id)
    assert budget.round(round_id).state == BudgetRoundState.Selected


def test_an_unknown_round_is_refused_by_name(budget: BudgetContract, ward: Ward) -> None:
    assert _rule(lambda: budget.submit(ward.proposers[0], 999, 10)) == "UnknownBudgetRound"
    assert _rule(lambda: budget.select(ward.admin, 999)) == "UnknownBudgetRound"


# ---------------------------------------------------------------- projects


def test_residents_submit_projects_indexed_in_submission_order(
    budget: BudgetContract, ward: Ward, open_round: OpenRound
) -> None:
    round_id = open_round()
    assert _with_projects(budget, ward, round_id, [300, 1_000, 1]) == [0, 1, 2]
    project = budget.project(round_id, 1)
    assert project.proposer == ward.proposers[1].address
    assert project.cost == 1_000
    assert project.textHash == Web3.keccak(b"p1")
    assert (project.votes, project.selected, project.ineligibleReason) == (0, False, b"\x00" * 32)
    assert budget.round(round_id).projectCount == 3


def test_submission_refused_outside_its_window(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    now = clock.now()
    early = open_round(submission_opens_at=now + 100)
    assert _rule(lambda: budget.submit(ward.proposers[0], early, 10)) == "SubmissionNotOpen"
    late = open_round()
    clock.advance(SUBMISSION_S)
    assert _rule(lambda: budget.submit(ward.proposers[0], late, 10)) == "SubmissionNotOpen"


def test_submission_refused_to_someone_not_on_the_round_roll(
    registry_client: RegistryContract,
    budget: BudgetContract,
    ward: Ward,
    open_round: OpenRound,
) -> None:
    round_id = open_round()
    assert _rule(lambda: budget.submit(ward.outsider, round_id, 10)) == "ProposerNotOnRoll"
    # Added to the roll after the round opened: not on its snapshot.
    registry_client.update_roll(ward.admin, ward.id, [ward.outsider.address])
    assert _rule(lambda: budget.submit(ward.outsider, round_id, 10)) == "ProposerNotOnRoll"
    assert budget.submit(ward.outsider, open_round(), 10) == 0


@pytest.mark.parametrize("cost", [0, 1_001])
def test_project_cost_must_be_positive_and_within_the_budget(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, cost: int
) -> None:
    round_id = open_round()
    assert _rule(lambda: budget.submit(ward.proposers[0], round_id, cost)) == "InvalidProjectCost"


def test_project_needs_its_text_hash(
    budget: BudgetContract, ward: Ward, open_round: OpenRound
) -> None:
    round_id = open_round()
    call = budget.contract.functions.submitProject(round_id, b"\x00" * 32, 10)
    assert _rule(lambda: send(budget.w3, ward.proposers[0], call, decoder=budget.decoder)) == (
        "MissingTextHash"
    )


def test_a_resident_submits_through_the_forwarder_and_pays_no_gas(
    w3: Web3,
    system: Deployment,
    budget: BudgetContract,
    ward: Ward,
    open_round: OpenRound,
    clock: Clock,
) -> None:
    round_id = open_round()
    resident = ward.signers[0]  # holds no ether
    call = system.budget.functions.submitProject(round_id, Web3.keccak(b"bench"), 250)
    request = sign_forward_request(
        w3, system.forwarder, resident, call, gas=300_000, deadline=clock.now() + 600
    )
    send(w3, ward.admin, system.forwarder.functions.execute(request.as_struct()))
    assert w3.eth.get_balance(resident.address) == 0
    assert budget.project(round_id, 0).proposer == resident.address


# ---------------------------------------------------------------- ineligibility


def test_only_the_committee_marks_a_project_ineligible_and_only_with_a_reason(
    budget: BudgetContract, ward: Ward, open_round: OpenRound
) -> None:
    round_id = open_round()
    _with_projects(budget, ward, round_id, [100, 200])
    assert _rule(lambda: budget.mark_ineligible(ward.proposers[0], round_id, 1)) == "NotCommittee"
    no_reason = b"\x00" * 32
    assert _rule(lambda: budget.mark_ineligible(ward.committee[0], round_id, 1, no_reason)) == (
        "MissingReasonHash"
    )
    budget.mark_ineligible(ward.committee[1], round_id, 1, b"\x99" * 32)
    assert budget.project(round_id, 1).ineligibleReason == b"\x99" * 32
    assert budget.round(round_id).ineligible == bitmap(1)
    assert _rule(lambda: budget.mark_ineligible(ward.committee[0], round_id, 1)) == (
        "ProjectAlreadyIneligible"
    )
    assert _rule(lambda: budget.mark_ineligible(ward.committee[0], round_id, 2)) == (
        "UnknownBudgetProject"
    )


def test_eligibility_is_frozen_once_voting_opens(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = open_round()
    _with_projects(budget, ward, round_id, [100])
    clock.advance(SUBMISSION_S)
    assert _rule(lambda: budget.mark_ineligible(ward.committee[0], round_id, 0)) == (
        "EligibilityFrozen"
    )


# ---------------------------------------------------------------- ballots


@pytest.fixture
def voting_round(budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock) -> int:
    """Knapsack, budget 1,000, 1..3 projects a ballot; projects cost 600, 300, 200, 100, 50
    and project 4 is ineligible; voting open."""
    round_id = open_round(min_projects=1, max_projects=3)
    _with_projects(budget, ward, round_id, [600, 300, 200, 100, 50])
    budget.mark_ineligible(ward.committee[0], round_id, 4)
    clock.advance(SUBMISSION_S)
    return round_id


def test_a_counted_ballot_adds_one_vote_to_each_project_it_names(
    budget: BudgetContract, ward: Ward, voting_round: int
) -> None:
    a, b = ward.signers[:2]
    batch = budget.cast(
        ward.admin,
        voting_round,
        [budget.sign(a, voting_round, bitmap(0, 1, 3)), budget.sign(b, voting_round, bitmap(1))],
    )
    assert batch.cast == ((a.address, bitmap(0, 1, 3)), (b.address, bitmap(1)))
    assert budget.votes(voting_round) == [1, 2, 0, 1, 0]
    assert budget.round(voting_round).ballotCount == 2
    assert budget.contract.functions.hasVoted(voting_round, a.address).call()


def test_every_faulty_ballot_is_skipped_with_its_reason_and_the_batch_goes_on(
    budget: BudgetContract, ward: Ward, voting_round: int
) -> None:
    s = ward.signers
    rid = voting_round
    voter, r = s[0].address, budget.sign(s[0], rid, bitmap(1))[2]
    # s above n/2 (expressible in the compact form up to 2^255): refused before recovery.
    high_s = HALF_N + 1
    signed_by_other = budget.sign(s[1], rid, bitmap(1), voter_address=s[2].address)
    ballots = [
        budget.sign(s[3], rid, bitmap(0, 1, 2)),  # 1,100 > 1,000
        budget.sign(s[4], rid, bitmap(1, 2, 3, 0)),  # four projects
        budget.sign(s[5], rid, 0),  # none
        budget.sign(ward.outsider, rid, bitmap(1)),
        (voter, bitmap(1), r, high_s.to_bytes(32, "big")),
        signed_by_other,
        budget.sign(s[6], rid, bitmap(5)),  # no project 5
        budget.sign(s[7], rid, bitmap(4)),  # ineligible
        budget.sign(s[8], rid, bitmap(0, 1)),  # counts: 900
        budget.sign(s[8], rid, bitmap(0, 1)),  # replayed
        budget.sign(s[9], rid, bitmap(256 - 1)),  # bit 255
    ]
    batch = budget.cast(ward.admin, rid, ballots)
    assert batch.cast == ((s[8].address, bitmap(0, 1)),)
    assert batch.skipped == (
        (s[3].address, R.OverBudget),
        (s[4].address, R.TooManyProjects),
        (s[5].address, R.TooFewProjects),
        (ward.outsider.address, R.NotOnRoll),
        (voter, R.MalleableSignature),
        (s[2].address, R.BadSignature),
        (s[6].address, R.UnknownProject),
        (s[7].address, R.IneligibleProject),
        (s[8].address, R.AlreadyVoted),
        (s[9].address, R.UnknownProject),
    )
    # A skipped ballot changes nothing: its voter votes afterwards.
    again = budget.cast(ward.admin, rid, [budget.sign(s[3], rid, bitmap(0, 1))])
    assert again.cast == ((s[3].address, bitmap(0, 1)),)
    assert budget.votes(rid) == [2, 2, 0, 0, 0]


def test_the_first_rule_broken_is_the_reason_in_the_stated_order(
    budget: BudgetContract, ward: Ward, voting_round: int
) -> None:
    s = ward.signers
    rid = voting_round
    budget.cast(ward.admin, rid, [budget.sign(s[0], rid, bitmap(3))])
    over_and_unknown = bitmap(0, 1, 2, 5)
    batch = budget.cast(
        ward.admin,
        rid,
        [
            budget.sign(s[1], rid, over_and_unknown, voter_address=s[2].address),
            budget.sign(ward.outsider, rid, over_and_unknown),
            budget.sign(s[0], rid, over_and_unknown),
            budget.sign(s[3], rid, bitmap(4, 5)),
            budget.sign(s[4], rid, bitmap(0, 1, 2, 3, 4)),
            budget.sign(s[5], rid, bitmap(0, 1, 2, 3)),
        ],
    )
    assert [reason for _, reason in batch.skipped] == [
        R.BadSignature,
        R.NotOnRoll,
        R.AlreadyVoted,
        R.UnknownProject,
        R.IneligibleProject,
        R.TooManyProjects,
    ]


def test_ballots_outside_the_voting_window_are_skipped(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = open_round()
    _with_projects(budget, ward, round_id, [100])
    ballot = budget.sign(ward.signers[0], round_id, bitmap(0))
    early = budget.cast(ward.admin, round_id, [ballot])
    assert early.skipped == ((ward.signers[0].address, R.VotingNotOpen),)
    clock.advance(SUBMISSION_S + VOTING_S)
    late = budget.cast(ward.admin, round_id, [ballot])
    assert late.skipped == ((ward.signers[0].address, R.VotingNotOpen),)
    assert budget.round(round_id).ballotCount == 0


def test_a_ballot_signed_for_another_round_is_a_bad_signature(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    first = open_round()
    second = open_round()
    for round_id in (first, second):
        _with_projects(budget, ward, round_id, [100])
    clock.advance(SUBMISSION_S)
    ballot = budget.sign(ward.signers[0], first, bitmap(0))
    assert budget.cast(ward.admin, second, [ballot]).skipped == (
        (ward.signers[0].address, R.BadSignature),
    )
    assert budget.cast(ward.admin, first, [ballot]).skipped == ()


def test_k_approval_takes_up_to_k_projects_whatever_they_cost(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = open_round(rule=BudgetRule.KApproval, min_projects=2, max_projects=3)
    _with_projects(budget, ward, round_id, [1_000, 1_000, 1_000, 1_000])
    clock.advance(SUBMISSION_S)
    s = ward.signers
    batch = budget.cast(
        ward.admin,
        round_id,
        [
            budget.sign(s[0], round_id, bitmap(0, 1, 2)),
            budget.sign(s[1], round_id, bitmap(0, 1, 2, 3)),
            budget.sign(s[2], round_id, bitmap(3)),
        ],
    )
    assert batch.cast == ((s[0].address, bitmap(0, 1, 2)),)
    assert [r for _, r in batch.skipped] == [R.TooManyProjects, R.TooFewProjects]


# ---------------------------------------------------------------- selection


def _closed_round(
    budget: BudgetContract,
    ward: Ward,
    open_round: OpenRound,
    clock: Clock,
    costs: list[int],
    ballots: list[int],
    *,
    ineligible: tuple[int, ...] = (),
    **overrides: object,
) -> int:
    round_id = open_round(**overrides)
    _with_projects(budget, ward, round_id, costs)
    for index in ineligible:
        budget.mark_ineligible(ward.committee[0], round_id, index)
    clock.advance(SUBMISSION_S)
    _vote(budget, ward, round_id, ballots)
    clock.advance(VOTING_S)
    return round_id


def test_selection_refused_before_voting_closes_and_a_second_time(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = open_round()
    assert _rule(lambda: budget.select(ward.admin, round_id)) == "RoundVotingNotClosed"
    clock.advance(SUBMISSION_S)
    assert _rule(lambda: budget.select(ward.admin, round_id)) == "RoundVotingNotClosed"
    clock.advance(VOTING_S)
    budget.select(ward.outsider, round_id)  # anyone
    assert _rule(lambda: budget.select(ward.admin, round_id)) == "RoundAlreadySelected"


def test_selection_passes_over_a_project_that_no_longer_fits_and_takes_a_cheaper_one(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    # Votes: p0 (600) 4, p1 (500) 3, p2 (300) 2, p3 (100) 1. Budget 1,000: p0 is taken (400
    # left), p1 no longer fits and is passed over, p2 and p3 still fit.
    ballots = [bitmap(0, 2, 3), bitmap(0, 2), bitmap(0), bitmap(0), bitmap(1), bitmap(1), bitmap(1)]
    round_id = _closed_round(budget, ward, open_round, clock, [600, 500, 300, 100], ballots)
    walk = budget.select(ward.admin, round_id)
    assert walk.steps == (
        (0, 4, 600, 400, True),
        (1, 3, 500, 400, False),
        (2, 2, 300, 100, True),
        (3, 1, 100, 0, True),
    )
    assert walk.selected == bitmap(0, 2, 3)
    assert (walk.selection_budget, walk.spent) == (1_000, 1_000)
    view = budget.round(round_id)
    assert (view.selected, view.spent, view.selectionBudget) == (bitmap(0, 2, 3), 1_000, 1_000)
    assert [budget.project(round_id, i).selected for i in range(4)] == [True, False, True, True]


def test_ties_go_to_the_lower_cost_then_to_the_lower_index(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    # Every project has two votes; costs 400, 300, 400, 300: order p1, p3, p0, p2.
    ballots = [bitmap(0, 1), bitmap(2, 3), bitmap(0, 1), bitmap(2, 3)]
    round_id = _closed_round(
        budget, ward, open_round, clock, [400, 300, 400, 300], ballots, rule=BudgetRule.KApproval
    )
    walk = budget.select(ward.admin, round_id)
    assert [(i, taken) for i, _, _, _, taken in walk.steps] == [
        (1, True),
        (3, True),
        (0, True),
        (2, False),
    ]


def test_projects_without_votes_or_ineligible_are_never_walked(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = open_round()
    _with_projects(budget, ward, round_id, [100, 100, 100])
    budget.mark_ineligible(ward.committee[0], round_id, 0)
    clock.advance(SUBMISSION_S)
    _vote(budget, ward, round_id, [bitmap(1)])
    clock.advance(VOTING_S)
    walk = budget.select(ward.admin, round_id)
    assert walk.steps == ((1, 1, 100, 900, True),)
    assert walk.selected == bitmap(1)


def test_selection_matches_the_plain_reference_on_a_crowded_round(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    costs = [500, 120, 330, 75, 410, 260, 90, 600, 45, 210]
    ballots = [
        bitmap(0, 3),
        bitmap(1, 2, 3),
        bitmap(4, 5, 6),
        bitmap(2),
        bitmap(8, 9, 1),
        bitmap(2, 5),
        bitmap(0, 1, 6),
        bitmap(3, 9),
        bitmap(5),
        bitmap(6, 8),
        bitmap(4, 3),
    ]
    round_id = _closed_round(
        budget, ward, open_round, clock, costs, ballots, ineligible=(7,), max_projects=3
    )
    votes = budget.votes(round_id)
    walk = budget.select(ward.admin, round_id)
    assert list(walk.steps) == reference_selection(votes, costs, bitmap(7), 1_000)


def test_selection_budget_is_capped_by_what_the_fund_has_available(
    w3: Web3,
    system: Deployment,
    accounts: list[LocalAccount],
    budget: BudgetContract,
    clock: Clock,
) -> None:
    poor = make_ward(w3, system, accounts, income=700)
    now = clock.now()
    params = RoundParams(
        poor.id, now, now + SUBMISSION_S, now + SUBMISSION_S, now + SUBMISSION_S + VOTING_S
    )
    round_id = budget.open_round(poor.committee[0], params)
    _with_projects(budget, poor, round_id, [600, 300, 100])
    clock.advance(SUBMISSION_S)
    _vote(budget, poor, round_id, [bitmap(0, 2), bitmap(0, 1), bitmap(0)])
    clock.advance(VOTING_S)
    walk = budget.select(poor.admin, round_id)
    # min(1,000, 700) = 700: p0 (600) fits, p1 (300) no longer does, p2 (100) does.
    assert walk.selection_budget == 700
    assert walk.steps == ((0, 3, 600, 100, True), (2, 1, 100, 0, True), (1, 1, 300, 0, False))
    assert system.fund.functions.fundOf(poor.id).call().available == 0


def test_each_selected_project_gets_a_grant_for_its_cost_paid_on_the_n_of_m_path(
    w3: Web3,
    system: Deployment,
    budget: BudgetContract,
    ward: Ward,
    open_round: OpenRound,
    clock: Clock,
) -> None:
    round_id = _closed_round(
        budget, ward, open_round, clock, [600, 300, 200], [bitmap(0, 1), bitmap(0, 2), bitmap(1)]
    )
    walk = budget.select(ward.outsider, round_id)
    grant_ids = [budget.contract.functions.grantIdOf(round_id, i).call() for i in (0, 1)]
    assert grant_ids[0] == 2**255 | round_id << 8
    assert walk.grants == ((grant_ids[1], 300), (grant_ids[0], 600))  # p1 first: cheaper at 2 votes
    fund = system.fund.functions
    grant = fund.grantOf(grant_ids[1]).call()
    assert (grant.communityId, grant.amount, grant.paid) == (ward.id, 300, 0)
    totals = fund.fundOf(ward.id).call()
    assert (totals.available, totals.reserved) == (FUND - 900, 900)
    # The existing N-of-M path pays it: one member requests, another approves and executes.
    first, second = ward.committee
    send(
        w3, first, fund.requestPayout(grant_ids[1], first.address, 120, b"\x01" * 32, b"\x02" * 32)
    )
    request_id = fund.payoutCount().call()
    send(w3, second, fund.approvePayout(request_id))
    send(w3, second, fund.executePayout(request_id))
    assert fund.grantOf(grant_ids[1]).call().paid == 120
    assert fund.fundOf(ward.id).call().totalPaid == 120


def test_only_the_budget_contract_opens_a_budget_grant(
    w3: Web3, system: Deployment, ward: Ward
) -> None:
    call = system.fund.functions.openBudgetGrants(ward.id, [(2**255 | 1 << 8, 10)])
    budget = BudgetContract(w3, system.budget, system.fund)
    assert _rule(lambda: send(w3, ward.committee[0], call, decoder=budget.decoder)) == (
        "NotParticipatoryBudget"
    )
    assert system.fund.functions.participatoryBudget().call() == system.budget.address


# ---------------------------------------------------------------- milestones


def test_the_committee_records_milestones_of_selected_projects_until_completed(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = _closed_round(
        budget, ward, open_round, clock, [600, 500], [bitmap(0), bitmap(0), bitmap(1)]
    )
    budget.select(ward.admin, round_id)  # p0 taken, p1 passed over
    record = budget.contract.functions.recordProjectMilestone

    def milestone(sender: LocalAccount, index: int, evidence: bytes, done: bool) -> object:
        return send(
            budget.w3, sender, record(round_id, index, evidence, done), decoder=budget.decoder
        )

    member = ward.committee[0]
    assert _rule(lambda: milestone(ward.proposers[0], 0, b"\x01" * 32, False)) == "NotCommittee"
    assert _rule(lambda: milestone(member, 1, b"\x01" * 32, False)) == "ProjectNotSelected"
    assert _rule(lambda: milestone(member, 0, b"\x00" * 32, False)) == "MissingEvidence"
    milestone(member, 0, b"\x01" * 32, False)
    milestone(member, 0, b"\x02" * 32, True)
    assert _rule(lambda: milestone(member, 0, b"\x03" * 32, False)) == "ProjectAlreadyCompleted"
    project = budget.project(round_id, 0)
    assert (project.milestoneCount, project.completed) == (2, True)
    assert budget.contract.functions.projectMilestones(round_id, 0).call() == [
        b"\x01" * 32,
        b"\x02" * 32,
    ]


def test_a_round_holds_256_projects_and_a_ballot_may_name_the_last(
    budget: BudgetContract, ward: Ward, open_round: OpenRound, clock: Clock
) -> None:
    round_id = open_round(
        budget=10**6,
        submission_closes_at=clock.now() + 5_000,
        voting_opens_at=clock.now() + 5_000,
        voting_closes_at=clock.now() + 6_000,
    )
    for i in range(256):
        budget.submit(ward.proposers[i % 3], round_id, 1 + i, f"p{i}".encode())
    assert _rule(lambda: budget.submit(ward.proposers[0], round_id, 1)) == "RoundFull"
    clock.advance(5_000)
    batch = budget.cast(
        ward.admin, round_id, [budget.sign(ward.signers[0], round_id, bitmap(255, 0))]
    )
    assert batch.cast == ((ward.signers[0].address, bitmap(255, 0)),)
    clock.advance(1_000)
    walk = budget.select(ward.admin, round_id)
    assert walk.steps == ((0, 1, 1, 10**6 - 1, True), (255, 1, 256, 10**6 - 257, True))


def test_the_ballot_digest_is_the_eip712_digest_residents_sign(
    w3: Web3, budget: BudgetContract, ward: Ward, open_round: OpenRound
) -> None:
    round_id = open_round()
    voter = ward.signers[0].address
    name, version = Domains.ParticipatoryBudget
    domain = domain_for(name, version, w3.eth.chain_id, budget.contract.address)
    message = {"roundId": round_id, "voter": voter, "projects": bitmap(0, 7, 255)}
    document = typed_data(domain, Types.BudgetBallot.eip712_types(), "BudgetBallot", message)
    signable = encode_typed_data(full_message=document)
    expected = Web3.keccak(b"\x19" + signable.version + signable.header + signable.body)
    digest = budget.contract.functions.ballotDigest(round_id, voter, bitmap(0, 7, 255)).call()
    assert digest == expected


def test_views_name_every_project_and_who_voted(
    budget: BudgetContract, ward: Ward, voting_round: int
) -> None:
    voter, other = ward.signers[:2]
    budget.cast(ward.admin, voting_round, [budget.sign(voter, voting_round, bitmap(2))])
    assert budget.contract.functions.hasVoted(voting_round, voter.address).call()
    assert not budget.contract.functions.hasVoted(voting_round, other.address).call()
    assert not budget.contract.functions.hasVoted(voting_round, ward.outsider.address).call()
    listed = budget.contract.functions.projects(voting_round).call()
    assert [p.cost for p in listed] == [600, 300, 200, 100, 50]
    assert [p.votes for p in listed] == [0, 0, 1, 0, 0]
    assert listed[4].ineligibleReason == b"\x66" * 32
    with pytest.raises(ContractCustomError) as refused:
        budget.project(voting_round, 5)
    assert str(refused.value.data).startswith("0x" + Errors.UnknownBudgetProject.selector.hex())


def test_each_roll_index_has_its_own_bit_across_the_ballot_box_words(
    w3: Web3, system: Deployment, budget: BudgetContract, accounts: list[LocalAccount], clock: Clock
) -> None:
    """A box word holds 255 roll indexes, its top bit primed when the round opens: the voters on
    either side of each word's edge count once each, a second ballot of each is refused, and
    nobody else is marked as having voted."""
    registry = RegistryContract(w3, system.registry)
    admin, chair = accounts[0], accounts[1]
    ward = registry.create_community(admin, b"\x78" * 32)
    registry.grant_role(admin, ward, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, ward, Roles.COMMITTEE, chair.address)
    proposer = accounts[3]
    residents = signer_keys(520, "wide ward")
    roll = [proposer.address, *(r.address for r in residents)]  # roll index = position
    registry.update_roll(admin, ward, roll[:260], publish=False)
    registry.update_roll(admin, ward, roll[260:])
    send(w3, chair, system.fund.functions.recordIncome(ward, 0, FUND, b"CNY", b"\x01" * 32))
    now = clock.now()
    round_id = budget.open_round(
        chair, RoundParams(ward, now, now + SUBMISSION_S, now + SUBMISSION_S,
                           now + SUBMISSION_S + VOTING_S))  # fmt: skip
    budget.submit(proposer, round_id, 100, b"the only project")
    clock.advance(SUBMISSION_S)
    edges = [1, 254, 255, 509, 510, 519]  # first voter; each word's last and next word's first
    voters = [residents[i - 1] for i in edges]
    batch = budget.cast(admin, round_id, [budget.sign(v, round_id, bitmap(0)) for v in voters])
    assert batch.skipped == () and len(batch.cast) == len(edges)
    again = budget.cast(admin, round_id, [budget.sign(v, round_id, bitmap(0)) for v in voters])
    assert again.skipped == tuple((v.address, R.AlreadyVoted) for v in voters)
    voted = budget.contract.functions.hasVoted
    for i, resident in enumerate(residents, start=1):
        assert voted(round_id, resident.address).call() == (i in edges), i
    assert budget.votes(round_id) == [len(edges)]
