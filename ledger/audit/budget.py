"""The participatory budgeting audit: every round rebuilt from IParticipatoryBudget's events and
the calldata of the calls that emitted them. Every counted ballot is judged again (window,
signature, roll at the round's snapshot, once a resident, the rule's limits), the votes are
tallied from the ballots, the selection is re-run with the reference walk (ledger.budget.selection)
and compared step by step with the emitted walk, and each selected project must get exactly one
grant in the CommunityFund for its cost (and nothing else a grant under a round's id)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

from ledger.audit.chain import Call
from ledger.audit.context import Ctx, Emitted, addr
from ledger.audit.fetch import Log
from ledger.audit.state import BudgetRound
from ledger.budget.ballots import MAX_PROJECTS, BallotRules, tally
from ledger.budget.selection import select
from ledger.hashing import keccak
from ledger.protocol.generated import BudgetRule, Domains, Types
from ledger.signing.digests import domain_separator
from ledger.signing.eip712 import recover_compact


def handle_event(ctx: Ctx, call: Call, e: Emitted, log: Log) -> None:
    handler = _HANDLERS.get(e.name)
    if handler is not None:
        handler(ctx, call, e)


# ------------------------------------------------------------------------------- rounds


def _params_fault(params: dict[str, Any], timestamp: int) -> str | None:
    budget, low, high = (
        int(params["budget"]),
        int(params["minProjects"]),
        int(params["maxProjects"]),
    )
    s_open, s_close = int(params["submissionOpensAt"]), int(params["submissionClosesAt"])
    v_open, v_close = int(params["votingOpensAt"]), int(params["votingClosesAt"])
    if not 0 < budget < 1 << 96:
        return f"budget {budget}"
    if not 1 <= low <= high <= MAX_PROJECTS:
        return f"project limits {low}..{high}"
    if not (s_open < s_close <= v_open < v_close and timestamp < s_close):
        return f"schedule {s_open}..{s_close}, {v_open}..{v_close} at time {timestamp}"
    return None


def round_opened(ctx: Ctx, call: Call, e: Emitted) -> None:
    state, ev = ctx.state, e.ev
    rid, cid, opener = int(ev["roundId"]), int(ev["communityId"]), addr(ev["opener"])
    params = ev["params"]
    ctx.actor_is(call, opener, "BudgetRoundOpened")
    if rid != len(state.budget_rounds) + 1:
        ctx.find("budget.round", call, len(state.budget_rounds) + 1, rid, "ids out of order")
    community = state.communities.get(cid)
    if community is None or not community.has("COMMITTEE", opener):
        ctx.find(
            "budget.round", call, "a COMMITTEE member", opener,
            f"round {rid} opened by an account outside its community's committee",
        )  # fmt: skip
    fault = _params_fault(params, call.timestamp)
    if fault:
        ctx.find("budget.round", call, "valid parameters", fault, f"round {rid}")
    version, size = int(ev["rollVersion"]), int(ev["rollSize"])
    if community is not None and (version, size) != (community.roll_version, community.roll_size):
        ctx.find(
            "budget.round", call,
            f"roll v{community.roll_version} of {community.roll_size}",
            f"roll v{version} of {size}",
            f"round {rid} snapshots another roll than the published one",
        )  # fmt: skip
    state.budget_rounds[rid] = BudgetRound(
        id=rid,
        community=cid,
        budget=int(params["budget"]),
        currency=bytes(params["currency"]),
        rule=int(params["rule"]),
        min_projects=int(params["minProjects"]),
        max_projects=int(params["maxProjects"]),
        submission_opens_at=int(params["submissionOpensAt"]),
        submission_closes_at=int(params["submissionClosesAt"]),
        voting_opens_at=int(params["votingOpensAt"]),
        voting_closes_at=int(params["votingClosesAt"]),
        roll_version=version,
    )


def _round(ctx: Ctx, call: Call, e: Emitted, rule: str) -> BudgetRound | None:
    rid = int(e.ev["roundId"])
    r = ctx.state.budget_rounds.get(rid)
    if r is None:
        ctx.find(rule, call, "an existing round", rid, f"{e.name} for no round")
    return r


def _on_roll(ctx: Ctx, r: BudgetRound, account: bytes) -> bool:
    member = ctx.state.communities[r.community].members.get(account)
    return member is not None and member.member_at(r.roll_version)


# ------------------------------------------------------------------------------- projects


def project_submitted(ctx: Ctx, call: Call, e: Emitted) -> None:
    r = _round(ctx, call, e, "budget.project")
    if r is None:
        return
    ev = e.ev
    index, proposer, cost = int(ev["index"]), addr(ev["proposer"]), int(ev["cost"])
    ctx.actor_is(call, proposer, e.name)
    fault = None
    if index != len(r.costs) or index >= MAX_PROJECTS:
        fault = f"index {index} where {len(r.costs)} was next"
    elif not r.submission_opens_at <= call.timestamp < r.submission_closes_at:
        window = f"{r.submission_opens_at}..{r.submission_closes_at}"
        fault = f"submitted at {call.timestamp}, outside {window}"
    elif not _on_roll(ctx, r, proposer):
        fault = f"proposer not on roll v{r.roll_version}"
    elif not 0 < cost <= r.budget:
        fault = f"cost {cost} outside 1..{r.budget}"
    if fault:
        ctx.find("budget.project", call, "a valid project", fault, f"round {r.id}")
    r.costs.append(cost)


def project_marked_ineligible(ctx: Ctx, call: Call, e: Emitted) -> None:
    r = _round(ctx, call, e, "budget.project")
    if r is None:
        return
    index, by = int(e.ev["index"]), addr(e.ev["markedBy"])
    ctx.actor_is(call, by, e.name)
    fault = None
    if index >= len(r.costs) or r.ineligible >> index & 1:
        fault = f"project {index} unknown or already ineligible"
    elif call.timestamp >= r.voting_opens_at:
        fault = f"marked at {call.timestamp}, after voting opened at {r.voting_opens_at}"
    elif not ctx.state.communities[r.community].has("COMMITTEE", by):
        fault = "marked by an account outside the committee"
    if fault:
        ctx.find("budget.project", call, "a committee mark before voting", fault, f"round {r.id}")
    r.ineligible |= 1 << index


# ------------------------------------------------------------------------------- ballots


@lru_cache(maxsize=8)
def _separator(chain_id: int, contract: bytes) -> bytes:
    return domain_separator(*Domains.ParticipatoryBudget, chain_id, contract)


def ballot_digest(ctx: Ctx, round_id: int, voter: bytes, projects: int) -> bytes:
    """The EIP-712 digest of a budget ballot, as the contract builds it."""
    struct_hash = keccak(
        Types.BudgetBallot.typehash
        + round_id.to_bytes(32, "big")
        + bytes(12)
        + voter
        + projects.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + _separator(ctx.chain_id, ctx.contracts["budget"]) + struct_hash)


_signed_in_call: dict[int, tuple[Any, dict[tuple[bytes, int], list[Any]]]] = {}


def _signed(args: dict[str, Any]) -> dict[tuple[bytes, int], list[Any]]:
    """The call's relayed ballots by (voter, projects), built once per call: a batch of n
    ballots emits n events, and scanning the batch for each would cost n^2."""
    cached = _signed_in_call.get(id(args))
    if cached is not None and cached[0] is args:
        return cached[1]
    by_key: dict[tuple[bytes, int], list[Any]] = {}
    for ballot in args["ballots"]:
        by_key.setdefault((addr(ballot["voter"]), int(ballot["projects"])), []).append(ballot)
    _signed_in_call.clear()  # calls are judged one after another: keep only the current one
    _signed_in_call[id(args)] = (args, by_key)
    return by_key


def _signature_fault(ctx: Ctx, e: Emitted, rid: int, voter: bytes, projects: int) -> str | None:
    """Why the relayed ballot behind this event is not the voter's signature (None: it is)."""
    if e.args is None:
        return None  # not traceable: the event alone is judged
    if e.fn != "castBudgetBallots":
        return f"a ballot counted by {e.fn}, which takes no signed ballots"
    digest = ballot_digest(ctx, rid, voter, projects)
    for ballot in _signed(e.args).get((voter, projects), []):
        vs = int.from_bytes(bytes(ballot["vs"]), "big")
        signer = recover_compact(digest, bytes(ballot["r"]), vs)
        if signer is None:
            return "a high-s signature"
        if signer == voter:
            return None
    return "no ballot in the call signed by the voter for these projects"


def rules_of(r: BudgetRound) -> BallotRules:
    return BallotRules(
        BudgetRule(r.rule), r.min_projects, r.max_projects, r.budget, tuple(r.costs), r.ineligible
    )


def _ballot_fault(
    ctx: Ctx, call: Call, e: Emitted, r: BudgetRound, voter: bytes, projects: int
) -> str | None:
    if not r.voting_opens_at <= call.timestamp < r.voting_closes_at:
        return f"cast at {call.timestamp}, outside {r.voting_opens_at}..{r.voting_closes_at}"
    if not _on_roll(ctx, r, voter):
        return f"voter not on roll v{r.roll_version}"
    if voter in r.voted:
        return "a second ballot of the voter"
    content = rules_of(r).content_fault(projects)
    if content is not None:
        return f"projects {projects:#x}: {content.name}"
    return _signature_fault(ctx, e, r.id, voter, projects)


def ballot_cast(ctx: Ctx, call: Call, e: Emitted) -> None:
    r = _round(ctx, call, e, "budget.ballot")
    if r is None:
        return
    voter, projects = addr(e.ev["voter"]), int(e.ev["projects"])
    fault = _ballot_fault(ctx, call, e, r, voter, projects)
    if fault:
        ctx.find("budget.ballot", call, "a valid ballot", fault, f"round {r.id}: counted")
    r.voted.add(voter)
    r.ballots.append(projects)
    ctx.state.bump("budget_ballots")


def ballot_skipped(ctx: Ctx, call: Call, e: Emitted) -> None:
    r = ctx.state.budget_rounds.get(int(e.ev["roundId"]))
    if r is not None:
        r.skipped += 1


# ------------------------------------------------------------------------------- selection


def _step(ctx: Ctx, call: Call, e: Emitted, selected: bool) -> None:
    r = _round(ctx, call, e, "budget.selection")
    if r is not None:
        ev = e.ev
        fields = (int(ev["index"]), int(ev["votes"]), int(ev["cost"]), int(ev["remaining"]))
        r.walk.append([*fields, int(selected)])


def project_selected(ctx: Ctx, call: Call, e: Emitted) -> None:
    _step(ctx, call, e, True)


def project_passed_over(ctx: Ctx, call: Call, e: Emitted) -> None:
    _step(ctx, call, e, False)


def round_selected(ctx: Ctx, call: Call, e: Emitted) -> None:
    r = _round(ctx, call, e, "budget.selection")
    if r is None:
        return
    ev = e.ev
    if call.timestamp < r.voting_closes_at or r.selected is not None:
        ctx.find(
            "budget.selection", call, "a selection after voting closed, once",
            f"at {call.timestamp}", f"round {r.id}",
        )  # fmt: skip
    r.selected, r.selection_budget, r.spent = (
        int(ev["selected"]), int(ev["selectionBudget"]), int(ev["spent"]),
    )  # fmt: skip
    # The fund's grants of this selection are opened by later frames of the same call.
    available = ctx.state.fund(r.community).available
    if r.selection_budget != min(r.budget, available):
        ctx.find(
            "budget.selection", call, min(r.budget, available), r.selection_budget,
            f"round {r.id}: the selection budget is not min(budget, the fund's available)",
        )  # fmt: skip
    expected = reselect(r)
    found = (r.walk, r.selected, r.spent)
    if expected != found:
        ctx.find(
            "budget.selection", call, expected, found,
            f"round {r.id}: the emitted walk, selection or spending is not the reference "
            f"selection over the recount of its {len(r.ballots)} ballots",
        )  # fmt: skip


def votes_of(r: BudgetRound) -> list[int]:
    return tally(r.ballots, len(r.costs))


def reselect(r: BudgetRound) -> tuple[list[list[int]], int, int]:
    """(walk rows, selected bitmap, spent) by the reference selection over the recounted votes."""
    eligible = [not r.ineligible >> i & 1 for i in range(len(r.costs))]
    selection = select(r.selection_budget, r.costs, votes_of(r), eligible)
    walk = [[s.index, s.votes, s.cost, s.remaining, int(s.selected)] for s in selection.walk]
    return walk, selection.bitmap, selection.spent


def milestone_recorded(ctx: Ctx, call: Call, e: Emitted) -> None:
    r = _round(ctx, call, e, "budget.milestone")
    if r is None:
        return
    ev = e.ev
    index, by = int(ev["index"]), addr(ev["recordedBy"])
    ctx.actor_is(call, by, e.name)
    fault = None
    if r.selected is None or not r.selected >> index & 1:
        fault = f"a milestone of project {index}, which was not selected"
    elif index in r.completed:
        fault = f"a milestone of project {index} after its completion"
    elif int(ev["milestoneIndex"]) != r.milestones.get(index, 0):
        fault = f"milestone {ev['milestoneIndex']} where {r.milestones.get(index, 0)} was next"
    elif not ctx.state.communities[r.community].has("COMMITTEE", by):
        fault = "recorded by an account outside the committee"
    elif bytes(ev["evidenceHash"]) == bytes(32):
        fault = "a milestone without evidence"
    if fault:
        ctx.find("budget.milestone", call, "a committee milestone of a selected project", fault,
                 f"round {r.id}")  # fmt: skip
    r.milestones[index] = r.milestones.get(index, 0) + 1
    if ev["completed"]:
        r.completed.add(index)


# ------------------------------------------------------------------------------- grants


def grant_opened(ctx: Ctx, call: Call, cid: int, gid: int, amount: int) -> None:
    """A CommunityFund grant under a budget grant id: opened by the budget contract, once, for a
    selected project of a round of this community, for exactly its cost."""
    rid, index = gid >> 8 & ((1 << 247) - 1), gid & 0xFF
    r = ctx.state.budget_rounds.get(rid)
    fault = None
    if call.actor is not None and call.actor != ctx.contracts.get("budget"):
        fault = "opened by another account than the ParticipatoryBudget contract"
    elif r is None or r.community != cid or r.selected is None:
        fault = f"no selected round {rid} in community {cid}"
    elif not r.selected >> index & 1:
        fault = f"project {index} was not selected"
    elif index in r.granted:
        fault = f"a second grant for project {index}"
    elif amount != r.costs[index]:
        fault = f"amount {amount} for a project costing {r.costs[index]}"
    if fault:
        ctx.find("budget.grant", call, "one grant per selected project, for its cost", fault,
                 f"grant {gid:#x}")  # fmt: skip
    if r is not None:
        r.granted[index] = amount


def final_checks(ctx: Ctx, block: int) -> None:
    """Every selected project got its grant; the contract's views say what the events said."""
    for r in ctx.state.budget_rounds.values():
        if r.selected is None:
            continue
        missing = sorted(set(_bits(r.selected)) - set(r.granted))
        if missing:
            ctx.find(
                "budget.grant", None, "a grant for each selected project", f"none for {missing}",
                f"round {r.id}", block=block,
            )  # fmt: skip


def _bits(bitmap: int) -> list[int]:
    return [i for i in range(bitmap.bit_length()) if bitmap >> i & 1]


def report_row(r: BudgetRound) -> dict[str, Any]:
    """A round as the audit report lists it."""
    return {
        "id": r.id,
        "community": r.community,
        "rule": BudgetRule(r.rule).name,
        "projects": len(r.costs),
        "ballots": len(r.ballots),
        "skipped": r.skipped,
        "selected": None if r.selected is None else _bits(r.selected),
        "selection_budget": r.selection_budget,
        "spent": r.spent,
    }


_HANDLERS: Final = {
    "BudgetRoundOpened": round_opened,
    "BudgetProjectSubmitted": project_submitted,
    "BudgetProjectMarkedIneligible": project_marked_ineligible,
    "BudgetBallotCast": ballot_cast,
    "BudgetBallotSkipped": ballot_skipped,
    "BudgetProjectSelected": project_selected,
    "BudgetProjectPassedOver": project_passed_over,
    "BudgetRoundSelected": round_selected,
    "BudgetProjectMilestoneRecorded": milestone_recorded,
}
