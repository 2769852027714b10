"""Fixtures shared by the contract tests (domain helpers are appended below by each domain)."""


# ---------------------------------------------------------------- fund and time bank
# A community with roles and a roll, and council proposals driven to a chosen outcome, built
# with the real Registry and Council of the `system` deployment.

from collections.abc import Callable as _Callable
from dataclasses import dataclass as _dataclass

import pytest as _pytest
from eth_account.signers.local import LocalAccount as _LocalAccount
from web3 import Web3 as _Web3

from ledger.deploy import Deployment as _Deployment
from ledger.node import rpc as _rpc
from ledger.protocol.generated import Roles as _Roles
from ledger.tx import send as _send


@_dataclass(frozen=True)
class Town:
    """A community: accounts[0] is admin and registrar, 1-3 the committee (M = 3), 4 the
    coordinator (also a resident), 4-9 the residents on the published roll."""

    id: int
    admin: _LocalAccount
    committee: tuple[_LocalAccount, ...]
    coordinator: _LocalAccount
    residents: tuple[_LocalAccount, ...]
    outsider: _LocalAccount  # on no roll and in no role of this community


def _make_town(w3: _Web3, system: _Deployment, accounts: list[_LocalAccount]) -> Town:
    registry = system.registry
    admin = accounts[0]
    receipt = _send(w3, admin, registry.functions.createCommunity(b"\x11" * 32))
    (created,) = registry.events.CommunityCreated().process_receipt(receipt)
    community_id = int(created["args"]["communityId"])
    committee = tuple(accounts[1:4])
    coordinator = accounts[4]
    residents = tuple(accounts[4:10])
    grants = [(_Roles.REGISTRAR, admin)] + [(_Roles.COMMITTEE, m) for m in committee]
    grants.append((_Roles.COORDINATOR, coordinator))
    for role, member in grants:
        _send(w3, admin, registry.functions.grantRole(community_id, role, member.address))
    added = [r.address for r in residents]
    _send(w3, admin, registry.functions.updateRoll(community_id, added, [], True))
    # The admin is a resident of no community here; a fresh key is the outsider.
    outsider = w3.eth.account.from_key(b"\x07" * 32)
    return Town(community_id, admin, committee, coordinator, residents, outsider)


@_pytest.fixture
def town(w3: _Web3, system: _Deployment, accounts: list[_LocalAccount]) -> Town:
    return _make_town(w3, system, accounts)


@_pytest.fixture
def make_town(w3: _Web3, system: _Deployment, accounts: list[_LocalAccount]) -> _Callable[[], Town]:
    """Another community with the same people in the same roles."""
    return lambda: _make_town(w3, system, accounts)


ProposalFactory = _Callable[..., int]


@_pytest.fixture
def make_proposal(w3: _Web3, system: _Deployment) -> ProposalFactory:
    """Open a yes/no/abstain proposal in `town` requesting `budget` `currency` and drive it to
    `outcome`: "passed" (4 of 6 yes), "rejected" (4 of 6 no), "no_quorum" (1 yes of 6,
    quorum 50 %), "open" (voting still running) or "closed" (voting over, not finalized).
    Returns the proposal id."""
    council = system.council

    def make(
        town: Town, *, outcome: str = "passed", budget: int = 100_000, currency: bytes = b"CNY"
    ) -> int:
        now = int(w3.eth.get_block("latest")["timestamp"])
        params = (town.id, b"\x22" * 32, 0, 3, now, now + 3600, 5000, 5000, budget, currency)
        receipt = _send(w3, town.committee[0], council.functions.openProposal(params))
        (opened,) = council.events.ProposalOpened().process_receipt(receipt)
        proposal_id = int(opened["args"]["proposalId"])
        votes = {
            "passed": [0, 0, 0, 0, 1],
            "rejected": [1, 1, 1, 1, 0],
            "no_quorum": [0],
            "open": [0, 0, 0, 0],
            "closed": [0, 0, 0, 0],
        }[outcome]
        for voter, option in zip(town.residents, votes, strict=False):
            _send(w3, voter, council.functions.castVote(proposal_id, option))
        if outcome == "open":
            return proposal_id
        _rpc(w3, "evm_increaseTime", [3601])
        _rpc(w3, "evm_mine")
        if outcome != "closed":
            _send(w3, town.admin, council.functions.finalize(proposal_id))
        return proposal_id

    return make


# ---------------------------------------------------------------- registry and council
# A community ("hall") whose roll mixes funded accounts (who can vote directly) with keys that
# only ever sign ballots (residents pay no gas), plus typed clients and a clock.

from ledger.clients.council import CouncilClient as _CouncilClient  # noqa: E402
from ledger.clients.council import ProposalParams as _ProposalParams  # noqa: E402
from ledger.clients.registry import RegistryClient as _RegistryClient  # noqa: E402
from ledger.clients.registry import Role as _Role  # noqa: E402


@_dataclass(frozen=True)
class Hall:
    """accounts[0] admin and registrar; accounts[1] committee; accounts[2:5] funded residents;
    `signers` residents who only sign; accounts[9] and `stranger` on no roll."""

    id: int
    admin: _LocalAccount
    committee: _LocalAccount
    voters: tuple[_LocalAccount, ...]
    signers: tuple[_LocalAccount, ...]
    outsider: _LocalAccount
    stranger: _LocalAccount

    @property
    def residents(self) -> tuple[_LocalAccount, ...]:
        return self.voters + self.signers


def signer_keys(count: int, salt: str = "hall") -> list[_LocalAccount]:
    from eth_account import Account

    return [Account.from_key(_Web3.keccak(text=f"{salt}-{i}")) for i in range(count)]


@_pytest.fixture
def registry_client(w3: _Web3, system: _Deployment) -> _RegistryClient:
    return _RegistryClient(w3, system.registry)


@_pytest.fixture
def council_client(w3: _Web3, system: _Deployment) -> _CouncilClient:
    return _CouncilClient(w3, system.council)


@_pytest.fixture
def hall(registry_client: _RegistryClient, accounts: list[_LocalAccount]) -> Hall:
    admin = accounts[0]
    community_id = registry_client.create_community(admin, b"\x33" * 32)
    registry_client.grant_role(admin, community_id, _Role.REGISTRAR, admin.address)
    registry_client.grant_role(admin, community_id, _Role.COMMITTEE, accounts[1].address)
    voters = tuple(accounts[2:5])
    signers = tuple(signer_keys(5))
    registry_client.update_roll(admin, community_id, [a.address for a in voters + signers])
    stranger = signer_keys(1, "stranger")[0]
    return Hall(community_id, admin, accounts[1], voters, signers, accounts[9], stranger)


class Clock:
    def __init__(self, w3: _Web3) -> None:
        self.w3 = w3

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        _rpc(self.w3, "evm_increaseTime", [seconds])
        _rpc(self.w3, "evm_mine")


@_pytest.fixture
def clock(w3: _Web3) -> Clock:
    return Clock(w3)


@_pytest.fixture
def open_hall_proposal(
    council_client: _CouncilClient, hall: Hall, clock: Clock
) -> _Callable[..., int]:
    """Open a proposal in `hall` (yes/no/abstain, open now for an hour unless overridden)."""

    def open_(**overrides: object) -> int:
        now = clock.now()
        fields: dict[str, object] = {
            "community_id": hall.id,
            "text_hash": b"\x44" * 32,
            "opens_at": now,
            "closes_at": now + 3600,
        }
        fields.update(overrides)
        return council_client.open_proposal(hall.committee, _ProposalParams(**fields))  # type: ignore[arg-type]

    return open_
