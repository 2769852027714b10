# ruff: noqa: RUF001 - the demo's Chinese texts take full-width punctuation
"""A demo community a newcomer can explore, seeded through the public signed paths.

Every step is a signed request, ballot or service record sent to the API — exactly what a
resident, registrar or committee member does. The demo's keys are generated on first run and
kept in the data directory (development chain only; never in the repository).

Seeding is restartable: each step first reads from the chain what it would make and makes only
what is missing. The demo's community is the one whose admin is the demo's admin key (the keys
are this data directory's own), so a start stopped anywhere is finished by the next start in
that same community, never by creating a second one.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClient
from ledger.budget.grants import grant_id
from ledger.files import atomic_write
from ledger.offchain import text_hash
from ledger.protocol.generated import (
    BudgetRoundState,
    BudgetRule,
    ElectionKind,
    ElectionState,
    ExecutionStatus,
    GrantState,
    InitiativeRules,
    InitiativeState,
    MandateScope,
    PayoutStatus,
    ProposalState,
    Roles,
)
from ledger.protocol.offchain import COUNT_STEP_BALLOTS
from ledger.signing.box_totals import BoxTotals, sign_box_totals, totals_hash
from ledger.signing.budget_ballots import BudgetBallot, BudgetDomain, sign_budget_ballot
from ledger.signing.election_ballots import (
    ElectionBallot,
    ElectionDomain,
    encode_ranking,
    sign_election_ballot,
)
from ledger.signing.in_person_ballots import (
    InPersonBallot,
    PollOfficeDomain,
    sign_in_person_ballot,
)
from ledger.signing.services import ServiceRecord, category_code

ROLES = ("admin", "chair", "treasurer", "secretary", "registrar", "coordinator")
RESIDENTS = 8
VOTING_WINDOW_S = 12
GARDEN_WINDOW_S = 7 * 86_400
BALLOTS_LAND_S = 6  # time the demo's ballots need to land: a vote closing sooner is not reused
CNY = b"CNY"
COMMUNITY_NAME = "Riverside Estate residents' council (demo)"
INCOME = (
    (0, 800_000, "district micro-renewal grant 2026"),
    (1, 120_000, "donations, spring fair"),
)
TIME_LIMITS = (-600, 6000)
APPROVALS = 2
PLAYGROUND_BUDGET = 500_000
FIRST_TRANCHE = 200_000
# The participatory budgeting round: a budget, four residents' projects, eight knapsack ballots.
# Votes 6, 5, 4, 3: the shelter and the benches are taken, the lights no longer fit and are
# passed over, the book corner still fits.
ROUND_BUDGET = 300_000
SUBMISSION_WINDOW_S = 8
ROUND_VOTING_WINDOW_S = 12
BUDGET_BALLOTS = (0b0011, 0b0011, 0b0011, 0b0101, 0b1001, 0b0101, 0b1110, 0b1110)


def bilingual(en: str, zh: str) -> str:
    """An off-chain text in both languages: the JSON body the page shows in the reader's
    language (web/src/bilingual.ts). Its hash, the one on the chain, is over the whole body."""
    return json.dumps({"en": en, "zh": zh}, ensure_ascii=False, sort_keys=True)


TEXTS = {
    "playground": bilingual(
        "Repair the playground's swings and resurface the ground under them. "
        "Budget: 5,000.00 CNY from the micro-renewal fund.",
        "修理游乐场的秋千，并重新铺设秋千下方的地面。预算：从微更新基金支出 5,000.00 元。",
    ),
    "fence": bilingual("Paint the estate's fence bright pink.", "把小区的围栏刷成亮粉色。"),
    "garden": bilingual(
        "Turn the unused lot behind building 3 into a community garden, "
        "tended by time-bank volunteers.",
        "把 3 号楼后面的空地改建成社区花园，由时间银行的志愿者照料。",
    ),
}
MILESTONE = bilingual("Photos: the new swings are installed.", "照片：新秋千已经装好。")
# The hand-over certificate's hash: the committee keeps the document, the chain its fingerprint.
HANDED_OVER = "playground hand-over certificate 2026-07"
# A quarter of the roll (11): three co-signatures make an initiative a council proposal.
INITIATIVE_RULES = InitiativeRules(
    thresholdBps=2500, signingPeriod=14 * 86_400, votingPeriod=7 * 86_400, quorumBps=3000,
    passBps=5000,
)  # fmt: skip
INITIATIVES = {
    "lights": (
        "resident2",
        bilingual(
            "Motion-sensor lights in every stairwell, so nobody climbs the stairs in the dark.",
            "每个楼梯间装上感应灯，晚上上下楼不再摸黑。",
        ),
        ("resident3", "resident4", "resident6"),
    ),
    "benches": (
        "resident7",
        bilingual(
            "Two benches by the canal path for older neighbours to rest on.",
            "在河边小路旁放两张长椅，方便老人歇脚。",
        ),
        ("resident8",),
    ),
}
RATINGS = {"resident4": (5, None), "resident5": (4, "孩子们很喜欢 / the children love it"),
           "resident6": (4, None), "resident7": (3, None)}  # fmt: skip
SHELTER_BUILT = "bicycle shelter by gate 2: completion photos 2026-09"
PROJECT_RATINGS = {"resident1": (5, None), "resident2": (4, "终于不怕下雨了 / dry bikes at last"),
                   "resident3": (4, None)}  # fmt: skip
PROJECTS = (
    (
        "resident1",
        150_000,
        bilingual("A covered bicycle shelter by gate 2.", "2 号门旁的带顶自行车棚。"),
    ),
    (
        "resident2",
        120_000,
        bilingual("Six benches along the river path.", "河边步道上的六张长椅。"),
    ),
    ("resident3", 90_000, bilingual("Solar lights for the back lane.", "后巷的太阳能路灯。")),
    ("resident4", 30_000, bilingual("A book-swap corner in the lobby.", "大堂的换书角。")),
)
VOTES = {
    "playground": [0, 0, 0, 0, 0, 0, 1, 2, 0],
    "fence": [1, 1, 1, 0, 1, 0, 1, 1],
    "garden": [0, 0, 2, 0],
}
SERVICES = [
    ("resident1", "resident2", 90, "CARE", "walked resident2's dog for a week"),
    ("resident3", "resident1", 45, "REPAIR", "fixed resident1's bicycle"),
    ("resident2", "resident4", 60, "TEACH", "maths tutoring"),
]


# Building 4 elects its leader by ranked choice. Each candidate's statement is stored off-chain
# and the election commits to its hash; its first line is the candidate's name on the page.
CANDIDATES = [
    bilingual(
        "Chen Jing\nRetired nurse, on the stairwell rota for ten years. I will get the lift "
        "repaired and keep the bike shed tidy.",
        "陈静\n退休护士，在楼道值日十年。我会把电梯修好，让车棚保持整洁。",
    ),
    bilingual(
        "Zhou Lei\nRuns the corner shop. I will hold a building meeting every month and post "
        "the notes on the door.",
        "周磊\n在楼下开小卖部。我会每月开一次楼栋会，会议记录贴在门口。",
    ),
    bilingual(
        "Huang Min\nTeacher. I will start a homework corner for the building's children.",
        "黄敏\n教师。我会为楼里的孩子办一个作业角。",
    ),
    bilingual(
        "Liu Yang\nElectrician. I will fix the corridor lights within a week of any report.",
        "刘洋\n电工。楼道灯坏了，报修后一周内修好。",
    ),
]
ELECTION_WINDOW_S = 30
# Voting opens this long after the election is opened: paper box A is declared in between.
PAPER_LEAD_S = 8
# Rankings of residents 1-8 and the chair: round 1 Chen 3, Zhou 3, Huang 2, Liu 1 (Liu out);
# round 2 a three-way tie at 3 (Huang out, the higher index); round 3 Zhou 4 of 7 is elected.
RANKINGS = [[0, 1], [0, 2], [0], [1, 0], [1, 2], [2, 1], [2, 3], [3, 2], [1]]
# How each of those voters (by index) takes part: resident4's ballot is cast by resident3, their
# proxy for this election; resident6 votes at the polling place, recorded by an officer;
# residents 7 and 8 vote on paper in box A, whose totals both officers sign; the rest online.
BY_PROXY = (3, 2)
IN_PERSON = 5
PAPER = (6, 7)
# The poll officers: the registrar and the coordinator, who know the residents by sight.
OFFICERS = ("registrar", "coordinator")
BOX_LABEL = "A"
CERTIFICATE = "demo: box A's closure certificate, photographed"


def demo_keys(path: Path) -> dict[str, LocalAccount]:
    """The demo's keys, created on first use (random; stored with the chain data)."""
    if path.exists():
        raw = json.loads(path.read_text())
    else:
        names = [*ROLES, *(f"resident{i}" for i in range(1, RESIDENTS + 1)), "contractor"]
        raw = {name: "0x" + secrets.token_hex(32) for name in names}
        atomic_write(path, json.dumps(raw, indent=2))
        path.chmod(0o600)
    return {name: Account.from_key(key) for name, key in raw.items()}


def _h(text: str) -> bytes:
    return Web3.keccak(text=text)


def seed_demo(
    client: ApiClient,
    keys: dict[str, LocalAccount],
    log: Callable[[str], None],
    checkpoint: Callable[[], None] = lambda: None,
    *,
    fast_clock: bool = False,
) -> dict[str, Any]:
    """Create the demo community, or finish the one a stopped start left half-made; returns
    what was made (ids). `checkpoint` is called between steps: it raises to stop there. Messages
    a stopped start left in the relay must have landed before this is called (the caller
    waits), or a step would not see them and make its change twice. With `fast_clock` the demo
    moves a development chain's clock to the end of each window instead of living through it
    (the chain then runs up to half a minute ahead of the wall clock)."""
    return _Seeder(client, keys, log, checkpoint, fast_clock).seed()


class _Seeder:
    def __init__(
        self,
        client: ApiClient,
        keys: dict[str, LocalAccount],
        log: Callable[[str], None],
        checkpoint: Callable[[], None],
        fast_clock: bool,
    ) -> None:
        self.client = client
        self.keys = keys
        self.log = log
        self.checkpoint = checkpoint
        self.fast_clock = fast_clock
        c = client.contracts
        self.registry, self.council = c["registry"], c["council"]
        self.fund, self.timebank, self.budget = c["fund"], c["timebank"], c["budget"]
        self.elections, self.office, self.mandates = (
            c["elections"],
            c["poll_office"],
            c["mandates"],
        )
        self.community = 0

    def seed(self) -> dict[str, Any]:
        self.community = self._community()
        self._roles()
        self._roll()
        proposals = self._proposals()
        self._votes(proposals)
        election = self._election()
        self._election_ballots(election)
        self._polling_place(election)
        self._fund_and_time_bank()
        self._services()
        self._finalize(proposals)
        self._count(election)
        payout = self._payout(proposals["playground"])
        self._milestone(proposals["playground"])
        initiatives = self._initiatives()
        self._completed_and_rated(proposals["playground"])
        budget_round = self._budget_round()
        rated_project = self._project_completed_and_rated(budget_round)
        self.log(f"demo: community {self.community} ready (proposals {sorted(proposals.values())})")
        return {
            "community": self.community,
            "proposals": proposals,
            "payout": payout,
            "initiatives": initiatives,
            "election": election,
            "budget_round": budget_round,
            "rated_project": rated_project,
        }

    def _step(self, message: str) -> None:
        self.checkpoint()
        self.log(message)

    def _community(self) -> int:
        admin = self.keys["admin"].address
        self.checkpoint()
        found = self._find_community(admin)
        if found:
            self.log(f"demo: finishing community {found}, which a stopped start left half-made")
            return found
        self.log("demo: creating the community and its roles")
        self.client.act(
            self.keys["admin"], self.registry.functions.createCommunity(_h(COMMUNITY_NAME))
        )
        made = self._find_community(admin)
        assert made, "createCommunity was counted, so the community is on-chain"
        return made

    def _find_community(self, admin: str) -> int:
        count = self.registry.functions.communityCount().call()
        for community in range(count, 0, -1):
            if self.registry.functions.communityAdmin(community).call() == admin:
                return int(community)
        return 0

    def _roles(self) -> None:
        self.checkpoint()
        grants = [(Roles.COMMITTEE, self.keys[k]) for k in ("chair", "treasurer", "secretary")]
        grants += [(Roles.REGISTRAR, self.keys["registrar"])]
        grants += [(Roles.COORDINATOR, self.keys["coordinator"])]
        grants += [(Roles.POLL_OFFICER, self.keys[k]) for k in OFFICERS]
        sent = [
            self.client.forward(
                self.keys["admin"],
                self.registry.functions.grantRole(self.community, role, member.address),
            )
            for role, member in grants
            if not self.registry.functions.hasRole(self.community, role, member.address).call()
        ]
        for receipt in sent:
            self.client.wait(receipt["id"])

    def _roll_members(self) -> list[str]:
        residents = [f"resident{i}" for i in range(1, RESIDENTS + 1)]
        return [self.keys[k].address for k in (*residents, "chair", "treasurer", "secretary")]

    def _roll(self) -> None:
        roll = self._roll_members()
        # One transaction puts the whole roll in force (or none of it): one check suffices.
        if self.registry.functions.isResident(self.community, roll[0]).call():
            return
        self._step(f"demo: publishing a roll of {len(roll)} residents")
        self.client.act(
            self.keys["registrar"],
            self.registry.functions.updateRoll(self.community, roll, [], True),
        )

    def _voters(self) -> list[LocalAccount]:
        return [*(self.keys[f"resident{i}"] for i in range(1, RESIDENTS + 1)), self.keys["chair"]]

    def _proposals(self) -> dict[str, int]:
        self._step("demo: opening three proposals")
        for text in (*TEXTS.values(), MILESTONE):
            self.client.post("/v1/texts", {"text": text})
        # The next block's clock: after a restart the newest block can be long past.
        now = int(self.client.w3.eth.get_block("pending")["timestamp"])
        plan = (
            ("playground", VOTING_WINDOW_S, PLAYGROUND_BUDGET),
            ("fence", VOTING_WINDOW_S, 0),
            ("garden", GARDEN_WINDOW_S, 0),
        )
        ids: dict[str, int] = {}
        for key, window, budget in plan:
            found = self._usable_proposal(key)
            if found:
                ids[key] = found
                continue
            params = (
                self.community,
                bytes.fromhex(text_hash(TEXTS[key])[2:]),
                0,
                3,
                now - 1,
                now + window,
                3000,
                5000,
                budget,
                CNY if budget else b"\x00\x00\x00",
            )
            self.client.act(self.keys["chair"], self.council.functions.openProposal(params))
            ids[key] = self._usable_proposal(key)
        return ids

    def _usable_proposal(self, key: str) -> int:
        """The newest of this community's proposals with `key`'s text that has every demo
        ballot, or is open long enough to get them; 0 if none. One a stopped start opened but
        whose vote closed before its ballots came stays as it is (closed without them), and a
        new one is opened."""
        digest = bytes.fromhex(text_hash(TEXTS[key])[2:])
        voters = self._voters()[: len(VOTES[key])]
        # The next block's clock decides whether a ballot is still in time.
        now = int(self.client.w3.eth.get_block("pending")["timestamp"])
        for pid in range(self.council.functions.proposalCount().call(), 0, -1):
            view = self.council.functions.getProposal(pid).call()
            if view.communityId != self.community or view.textHash != digest:
                continue
            if view.closesAt >= now + BALLOTS_LAND_S or self._has_every_ballot(pid, view, voters):
                return pid
        return 0

    def _has_every_ballot(self, pid: int, view: Any, voters: list[LocalAccount]) -> bool:
        if view.state == ProposalState.Finalized:
            # Its ballot box may serve a later proposal now (one an initiative opened, say),
            # which makes hasVoted revert: its tally says how many came.
            return bool(sum(view.tally) >= len(voters))
        return all(bool(self.council.functions.hasVoted(pid, v.address).call()) for v in voters)

    def _votes(self, proposals: dict[str, int]) -> None:
        self._step("demo: residents vote (signed ballots, relayed in batches)")
        # Only open ones: a finalized proposal's ballot box may serve a later one now.
        open_ = {
            key
            for key, pid in proposals.items()
            if self.council.functions.state(pid).call() == ProposalState.Open
        }
        receipts = [
            self.client.ballot(voter, proposals[key], option)
            for key, options in VOTES.items()
            if key in open_
            for voter, option in zip(self._voters(), options, strict=False)
            if not self.council.functions.hasVoted(proposals[key], voter.address).call()
        ]
        self.client.wait_all(receipts)

    def _fund_and_time_bank(self) -> None:
        self._step("demo: setting up the fund and the time bank")
        admin, treasurer = self.keys["admin"], self.keys["treasurer"]
        fund = self.fund.functions.fundOf(self.community).call()
        sent = []
        if fund.currency != CNY:
            sent.append(
                self.client.forward(admin, self.fund.functions.setCurrency(self.community, CNY))
            )
        if fund.approvalThreshold != APPROVALS:
            call = self.fund.functions.setApprovalThreshold(self.community, APPROVALS)
            sent.append(self.client.forward(admin, call))
        # By the event, not the values: the demo's limits are the time bank's defaults, which a
        # community reads before its admin ever sets them.
        limits_set = self.timebank.events.LimitsSet().get_logs(
            from_block=0, argument_filters={"communityId": self.community}
        )
        if not limits_set:
            call = self.timebank.functions.setLimits(self.community, *TIME_LIMITS)
            sent.append(self.client.forward(admin, call))
        for receipt in sent:
            self.client.wait(receipt["id"])
        # The income is recorded in order, so what is already in says which entries are.
        recorded = self.fund.functions.fundOf(self.community).call().totalIncome
        for source, amount, memo in INCOME:
            if recorded >= amount:
                recorded -= amount
                continue
            self.checkpoint()
            self.client.act(
                treasurer,
                self.fund.functions.recordIncome(self.community, source, amount, CNY, _h(memo)),
            )

    def _services(self) -> None:
        community_account = self.timebank.functions.COMMUNITY_ACCOUNT().call()
        records = [
            (self.keys[provider], self.keys[recipient].address, minutes, category, note,
             self.keys[recipient], nonce)
            for nonce, (provider, recipient, minutes, category, note) in enumerate(SERVICES, 1)
        ]  # fmt: skip
        records.append(
            (self.keys["resident5"], community_account, 120, "GARDEN", "cleared the garden lot",
             self.keys["coordinator"], 1)
        )  # fmt: skip
        for provider, recipient, minutes, category, note, confirmer, nonce in records:
            self.checkpoint()
            if self.timebank.functions.isRecorded(self.community, provider.address, nonce).call():
                continue
            record = ServiceRecord(
                provider.address, recipient, minutes, category_code(category), _h(note), nonce
            )
            receipt = self.client.service(self.community, record, provider, confirmer)
            self.client.wait(receipt["id"])

    def _finalize(self, proposals: dict[str, int]) -> None:
        self._step("demo: waiting for two proposals to close, then finalizing them")
        for key in ("playground", "fence"):
            pid = proposals[key]
            if self.council.functions.state(pid).call() == ProposalState.Finalized:
                continue
            self._wait_until(self.council.functions.getProposal(pid).call().closesAt)
            self.client.act(self.keys["secretary"], self.council.functions.finalize(pid))

    def _payout(self, playground: int) -> int:
        self._step(
            "demo: a grant for the passed proposal, a payout approved by two members, a milestone"
        )
        treasurer, chair, secretary = (self.keys[k] for k in ("treasurer", "chair", "secretary"))
        if self.fund.functions.grantOf(playground).call().state == GrantState.None_:
            self.client.act(treasurer, self.fund.functions.openGrant(playground, PLAYGROUND_BUDGET))
        request = self._find_payout(playground)
        if not request:
            self.checkpoint()
            self.client.act(
                treasurer,
                self.fund.functions.requestPayout(
                    playground,
                    self.keys["contractor"].address,
                    FIRST_TRANCHE,
                    _h("first tranche: swings"),
                    _h("invoice 2026-114"),
                ),
            )
            request = self._find_payout(playground)
        for member in (chair, secretary):
            self.checkpoint()
            if not self.fund.functions.hasApproved(request, member.address).call():
                self.client.act(member, self.fund.functions.approvePayout(request))
        if self.fund.functions.payoutOf(request).call().status == PayoutStatus.Pending:
            self.checkpoint()
            self.client.act(chair, self.fund.functions.executePayout(request))
        return request

    def _find_payout(self, playground: int) -> int:
        for request in range(self.fund.functions.payoutCount().call(), 0, -1):
            payout = self.fund.functions.payoutOf(request).call()
            if payout.proposalId == playground and payout.status in (
                PayoutStatus.Pending,
                PayoutStatus.Executed,
            ):
                return int(request)
        return 0

    def _milestone(self, playground: int) -> None:
        self.checkpoint()
        if self.council.functions.milestones(playground).call():
            return
        self.client.act(
            self.keys["secretary"],
            self.council.functions.recordMilestone(
                playground, bytes.fromhex(text_hash(MILESTONE)[2:]), False
            ),
        )

    def _initiatives(self) -> dict[str, int]:
        """One initiative that reached its threshold (now a council proposal) and one still
        gathering co-signatures."""
        self._step("demo: two initiatives, co-signed by residents (one reaches its threshold)")
        initiatives = self.client.contracts["initiatives"]
        if initiatives.functions.rulesOf(self.community).call().thresholdBps == 0:
            call = initiatives.functions.setRules(self.community, tuple(INITIATIVE_RULES))
            self.client.act(self.keys["admin"], call)
        ids: dict[str, int] = {}
        for key, (author, text, cosigners) in INITIATIVES.items():
            self.checkpoint()
            found = self._find_initiative(text)
            if not found:
                self.client.wait(
                    self.client.initiative(self.keys[author], self.community, text)["id"]
                )
                found = self._find_initiative(text)
            ids[key] = found
            view = initiatives.functions.getInitiative(found).call()
            if view.state != InitiativeState.Collecting:
                continue
            missing = [
                self.keys[k]
                for k in cosigners
                if not initiatives.functions.hasCoSigned(found, self.keys[k].address).call()
            ]
            self.client.wait_all([self.client.cosign(k, found) for k in missing])
        return ids

    def _find_initiative(self, text: str) -> int:
        """The newest of this community's initiatives with `text` that is not expired; 0 if
        none (an expired one a stopped start left stays as it is)."""
        initiatives = self.client.contracts["initiatives"]
        digest = bytes.fromhex(text_hash(text)[2:])
        for iid in range(initiatives.functions.initiativeCount().call(), 0, -1):
            view = initiatives.functions.getInitiative(iid).call()
            if view.communityId != self.community or view.textHash != digest:
                continue
            if view.state != InitiativeState.Expired:
                return int(iid)
        return 0

    def _completed_and_rated(self, playground: int) -> None:
        """The playground's work marked completed, and residents' ratings of it."""
        self._step("demo: the playground is completed, and residents rate it")
        if self.council.functions.getProposal(playground).call().execution != (
            ExecutionStatus.Completed
        ):
            call = self.council.functions.recordMilestone(playground, _h(HANDED_OVER), True)
            self.client.act(self.keys["secretary"], call)
        ratings = self.client.contracts["ratings"]
        self.client.wait_all(
            [
                self.client.rate(self.keys[k], playground, score, comment)
                for k, (score, comment) in RATINGS.items()
                if not ratings.functions.hasRated(playground, self.keys[k].address).call()
            ]
        )

    def _election(self) -> int:
        """The building-leader election, opened unless a usable one is there, with paper box
        A declared before its voting opens."""
        self._step("demo: opening building 4's election of its leader (ranked choice)")
        found = self._usable_election()
        if not found:
            for text in CANDIDATES:
                self.client.post("/v1/texts", {"text": text})
            now = int(self.client.w3.eth.get_block("pending")["timestamp"])
            params = (
                self.community,
                [bytes.fromhex(text_hash(c)[2:]) for c in CANDIDATES],
                1,
                int(ElectionKind.Ranked),
                len(CANDIDATES),
                now + PAPER_LEAD_S,
                now + PAPER_LEAD_S + ELECTION_WINDOW_S,
            )
            self.client.act(self.keys["chair"], self.elections.functions.openElection(params))
            # The newest: read by count, not by usability, which a slow start could deny it.
            found = int(self.elections.functions.electionCount().call())
        if not self._box_of(found):
            self.client.post("/v1/texts", {"text": BOX_LABEL})  # for pages to name the box
            voters = [self._voters()[i].address for i in PAPER]
            call = self.office.functions.declareBox(found, _h(BOX_LABEL), voters)
            self.client.act(self.keys["chair"], call)
        return found

    def _usable_election(self) -> int:
        """The newest of this community's elections on the demo's candidates that has every
        demo ballot, or is open long enough to get them, and its paper box or time to declare
        it; 0 if none (as _usable_proposal)."""
        first = bytes.fromhex(text_hash(CANDIDATES[0])[2:])
        now = int(self.client.w3.eth.get_block("pending")["timestamp"])
        for eid in range(self.elections.functions.electionCount().call(), 0, -1):
            view = self.elections.functions.getElection(eid).call()
            if view.communityId != self.community or bytes(view.candidates[0]) != first:
                continue
            if not self._box_of(eid) and view.opensAt < now + BALLOTS_LAND_S:
                continue
            if view.closesAt >= now + BALLOTS_LAND_S or self._all_voted(eid):
                return int(eid)
        return 0

    def _all_voted(self, election: int) -> bool:
        """Every demo voter's ballot is in: the box's residents' once its totals counted."""
        on_paper = {self._voters()[i].address for i in PAPER}
        return self.office.functions.getBox(self._box_of(election)).call().ballots > 0 and all(
            self.elections.functions.hasVoted(election, v.address).call()
            for v in self._voters()
            if v.address not in on_paper
        )

    def _box_of(self, election: int) -> int:
        """The id of the election's paper box (the demo declares one), 0 if none."""
        for box in range(self.office.functions.boxCount().call(), 0, -1):
            if self.office.functions.getBox(box).call().electionId == election:
                return box
        return 0

    def _election_ballots(self, election: int) -> None:
        self._step("demo: residents rank the candidates (signed ballots, relayed in a batch)")
        self._wait_until(self.elections.functions.getElection(election).call().opensAt)
        domain = ElectionDomain(self.client.chain_id, self.elections.address)
        receipts = []
        online = set(range(len(RANKINGS))) - {BY_PROXY[0], IN_PERSON, *PAPER}
        for i in sorted(online):
            voter = self._voters()[i]
            if self.elections.functions.hasVoted(election, voter.address).call():
                continue
            ballot = ElectionBallot(election, voter.address, encode_ranking(RANKINGS[i]))
            signed = sign_election_ballot(voter, ballot, domain)
            body = {
                "electionId": election,
                "voter": voter.address,
                "choices": ballot.choices,
                "signature": "0x" + signed.signature.hex(),
            }
            receipts.append(self.client.post("/v1/election-ballots", body))
        self.client.wait_all(receipts)

    def _polling_place(self, election: int) -> None:
        """The other ways to vote: in person, by proxy and on paper, each signed and relayed."""
        self._step("demo: an in-person ballot, a proxy's ballot and paper box A's totals")
        voters, officer = self._voters(), self.keys[OFFICERS[0]]
        office = PollOfficeDomain(self.client.chain_id, self.office.address)
        receipts = []
        present = voters[IN_PERSON]
        if not self.elections.functions.hasVoted(election, present.address).call():
            choices = encode_ranking(RANKINGS[IN_PERSON])
            marked = InPersonBallot(election, present.address, choices, officer.address)
            signed = sign_in_person_ballot(officer, marked, office)
            body = {**marked.message(), "signature": "0x" + signed.signature.hex()}
            receipts.append(self.client.post("/v1/in-person-ballots", body))
        mandator, proxy = (voters[i] for i in BY_PROXY)
        if not self.elections.functions.hasVoted(election, mandator.address).call():
            held = self.mandates.functions.mandateOf(self.community, mandator.address).call()
            if (held.proxy, held.scope, held.voteId) != (
                proxy.address,
                MandateScope.Election,
                election,
            ):
                self.client.wait(
                    self.client.appoint(
                        mandator, self.community, proxy.address, MandateScope.Election, election
                    )["id"]
                )
            choices = encode_ranking(RANKINGS[BY_PROXY[0]])
            cast = self.client.election_proxy_ballot(proxy, election, mandator.address, choices)
            receipts.append(cast)
        receipts += self._box_totals(election)
        self.client.wait_all(receipts)

    def _box_totals(self, election: int) -> list[dict[str, Any]]:
        """Both officers' signed totals of box A (one ballot of each of its voters' rankings),
        those not yet on the chain."""
        box = self._box_of(election)
        if self.office.functions.getBox(box).call().ballots:
            return []
        choices = tuple(encode_ranking(RANKINGS[i]) for i in PAPER)
        certificate = _h(CERTIFICATE)
        receipts = []
        domain = PollOfficeDomain(self.client.chain_id, self.office.address)
        for name in OFFICERS:
            officer = self.keys[name]
            totals = BoxTotals(box, choices, (1,) * len(choices), certificate, officer.address)
            signer = self.office.functions.totalsSigner(box, totals_hash(totals)).call()
            if signer == officer.address:  # signed before a stop: the other's may be missing
                continue
            signed = sign_box_totals(officer, totals, domain)
            body = {
                "boxId": box,
                "choices": list(choices),
                "counts": list(totals.counts),
                "certificateHash": "0x" + certificate.hex(),
                "officer": officer.address,
                "signature": "0x" + signed.signature.hex(),
            }
            receipts.append(self.client.post("/v1/box-totals", body))
        return receipts

    def _count(self, election: int) -> None:
        """Once ballots close, the count on the chain, step by step, by the secretary."""
        self._step("demo: counting the election round by round once it closes")
        self._wait_until(self.elections.functions.getElection(election).call().closesAt)
        while self.elections.functions.state(election).call() != ElectionState.Counted:
            self.checkpoint()
            call = self.elections.functions.countStep(election, COUNT_STEP_BALLOTS)
            self.client.act(self.keys["secretary"], call)

    # --- participatory budgeting -------------------------------------------------------------

    def _budget_round(self) -> int:
        """A round with the demo's projects and ballots, selected, its grants opened."""
        self._step("demo: a participatory budgeting round: projects, ballots, the selection")
        round_id = self._usable_round() or self._open_round()
        self._submit_projects(round_id)
        self._budget_ballots(round_id)
        self._select(round_id)
        return round_id

    def _usable_round(self) -> int:
        """The newest round of this community that has (or can still get) every demo project
        and ballot; 0 if none. One a stopped start left short stays as it is."""
        now = int(self.client.w3.eth.get_block("pending")["timestamp"])
        voters = self._voters()[: len(BUDGET_BALLOTS)]
        for rid in range(self.budget.functions.roundCount().call(), 0, -1):
            view = self.budget.functions.getRound(rid).call()
            if view.communityId != self.community:
                continue
            projects_in = view.projectCount == len(PROJECTS) or (
                view.submissionClosesAt >= now + BALLOTS_LAND_S
            )
            ballots_in = view.votingClosesAt >= now + BALLOTS_LAND_S or all(
                self.budget.functions.hasVoted(rid, v.address).call() for v in voters
            )
            if projects_in and ballots_in:
                return int(rid)
        return 0

    def _open_round(self) -> int:
        for _, _, text in PROJECTS:
            self.client.post("/v1/texts", {"text": text})
        now = int(self.client.w3.eth.get_block("pending")["timestamp"])
        closes = now + SUBMISSION_WINDOW_S
        params = (
            self.community, _h("demo round"), ROUND_BUDGET, CNY, int(BudgetRule.Knapsack), 1, 4,
            now - 1, closes, closes, closes + ROUND_VOTING_WINDOW_S,
        )  # fmt: skip
        self.client.act(self.keys["chair"], self.budget.functions.openBudgetRound(params))
        return int(self.budget.functions.roundCount().call())

    def _submit_projects(self, round_id: int) -> None:
        count = self.budget.functions.getRound(round_id).call().projectCount
        for proposer, cost, text in PROJECTS[count:]:  # submitted in order: the rest is missing
            self.checkpoint()
            digest = bytes.fromhex(text_hash(text)[2:])
            call = self.budget.functions.submitProject(round_id, digest, cost)
            self.client.act(self.keys[proposer], call)

    def _budget_ballots(self, round_id: int) -> None:
        self._wait_until(self.budget.functions.getRound(round_id).call().votingOpensAt)
        domain = BudgetDomain(self.client.chain_id, self.budget.address)
        receipts = []
        for voter, projects in zip(self._voters(), BUDGET_BALLOTS, strict=False):
            if self.budget.functions.hasVoted(round_id, voter.address).call():
                continue
            signed = sign_budget_ballot(
                voter, BudgetBallot(round_id, voter.address, projects), domain
            )
            body = {
                "roundId": round_id,
                "voter": voter.address,
                "projects": projects,
                "signature": "0x" + signed.signature.hex(),
            }
            receipts.append(self.client.post("/v1/budget-ballots", body))
        self.client.wait_all(receipts)

    def _select(self, round_id: int) -> None:
        if self.budget.functions.state(round_id).call() == BudgetRoundState.Selected:
            return
        self._wait_until(self.budget.functions.getRound(round_id).call().votingClosesAt)
        self.client.act(self.keys["secretary"], self.budget.functions.selectProjects(round_id))

    def _project_completed_and_rated(self, round_id: int) -> int:
        """The round's first selected project carried out (a milestone completes it) and rated
        by residents under its grant id; its index."""
        self._step("demo: a funded project is carried out, and residents rate it")
        selected = int(self.budget.functions.getRound(round_id).call().selected)
        index = (selected & -selected).bit_length() - 1
        if not self.budget.functions.getProject(round_id, index).call().completed:
            self.client.post("/v1/texts", {"text": SHELTER_BUILT})
            call = self.budget.functions.recordProjectMilestone(
                round_id, index, _h(SHELTER_BUILT), True
            )
            self.client.act(self.keys["secretary"], call)
        subject = grant_id(round_id, index)
        ratings = self.client.contracts["ratings"]
        self.client.wait_all(
            [
                self.client.rate(self.keys[k], subject, score, comment)
                for k, (score, comment) in PROJECT_RATINGS.items()
                if not ratings.functions.hasRated(subject, self.keys[k].address).call()
            ]
        )
        return index

    def _wait_until(self, unix: int) -> None:
        """Until the chain's clock reaches `unix` (mining, so that time shows on-chain)."""
        w3 = self.client.w3
        if self.fast_clock and int(w3.eth.get_block("latest")["timestamp"]) < unix:
            w3.provider.make_request("evm_mine", [unix])  # type: ignore[arg-type]
        while int(w3.eth.get_block("latest")["timestamp"]) < unix:
            self.checkpoint()
            time.sleep(0.5)
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
