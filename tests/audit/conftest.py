"""Fixtures for the audit tests: a live system (chain + real API server) with a realistic
history made through the public signed paths, and helpers to audit it and to inject faults."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from commons.api_client import ApiClient
from commons.demo import demo_keys, seed_demo
from ledger.audit.auditor import AuditOptions, run_audit
from ledger.audit.bytecode import Build, fresh_build
from ledger.audit.model import AuditResult
from ledger.audit.report import load_public_key, raw_public_key
from ledger.audit.signers import fingerprint
from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.node import AnvilProcess, rpc
from ledger.protocol.generated import ElectionKind, MandateScope, Roles
from ledger.signing.election_ballots import encode_ranking
from ledger.signing.mandates import MandateDomain, make_mandate, mandate_call_arg, sign_mandate
from ledger.signing.services import (
    ServiceRecord,
    category_code,
    record_id,
    sign_reversal,
    timebank_domain,
)
from ledger.tx import send
from tests.contract_wrappers.elections import ElectionParams, ElectionsContract, candidates
from tests.contract_wrappers.initiatives import RULES, InitiativesContract
from tests.contract_wrappers.ratings import RatingsContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import SecretBallotContract, SecretVoteParams, Trustee
from tests.contract_wrappers.timebank import TimeBankContract
from tests.e2e.conftest import LiveSystem, live_system


@dataclass
class History:
    """The seeded demo plus a direct vote and a service reversal."""

    live: LiveSystem
    keys: dict[str, LocalAccount]
    made: dict[str, Any]
    community: int
    ballot_receipt: dict[str, Any]  # what the API returned to resident6 for a counted ballot
    direct_vote_tx: str  # resident5's castVote, forwarded
    record_path: Path
    settings: Settings

    @property
    def w3(self) -> Web3:
        return self.live.w3

    @property
    def record(self) -> dict[str, Any]:
        return dict(json.loads(self.record_path.read_text()))

    def audit(
        self, *, record: dict[str, Any] | None = None, resume: bool = False, **kwargs: Any
    ) -> AuditResult:
        options = AuditOptions(
            rpc_url=self.live.node.url,
            record=record if record is not None else self.record,
            settings=self.settings,
            resume=resume,
            **kwargs,
        )
        return run_audit(options)

    def snapshot(self) -> str:
        return str(rpc(self.w3, "evm_snapshot"))

    def revert(self, snapshot: str) -> None:
        rpc(self.w3, "evm_revert", [snapshot])


def audit_data_dir(base: Path, build_cache: Path) -> Path:
    """A data directory for audits whose compile cache is the shared one."""
    (base / "audit").mkdir(parents=True, exist_ok=True)
    link = base / "audit" / "build-cache"
    if not link.exists():
        link.symlink_to(build_cache, target_is_directory=True)
    return base


def audit_deployment(
    anvil: AnvilProcess, system: Deployment, settings: Settings, audit_dir: Path
) -> AuditResult:
    """A whole audit, from scratch, of `system` on the session's chain."""
    return run_audit(
        AuditOptions(
            rpc_url=anvil.url,
            record=system.record,
            settings=settings.model_copy(update={"data_dir": audit_dir}),
            resume=False,
        )
    )


def _proof(w3: Web3, timebank: Contract, community: int, record: ServiceRecord) -> Any:
    """The batch proof of a recorded record, as the contract takes it."""
    proof = TimeBankContract(w3, timebank).batch_proof(community, record)
    assert proof is not None, "the record is in no batch"
    return proof.as_tuple()


def _initiatives(
    live: LiveSystem,
    client: ApiClient,
    keys: dict[str, LocalAccount],
    community: int,
    relayer: LocalAccount,
) -> None:
    """Rules set by the admin; one initiative promoted by a relayed batch (with a co-signature
    from outside the roll and a repeated one skipped), one still collecting with one."""
    initiatives = InitiativesContract(live.w3, client.contracts["initiatives"])
    client.act(
        keys["admin"],
        initiatives.contract.functions.setRules(
            community, tuple(RULES._replace(thresholdBps=2500))
        ),
    )

    def submit(author: str) -> int:
        call = initiatives.contract.functions.submit(community, Web3.keccak(text=author), 0, b"CNY")
        client.act(keys[author], call)
        return int(initiatives.contract.functions.initiativeCount().call())

    promoted, waiting = submit("resident1"), submit("resident2")
    signed = [initiatives.sign(keys[f"resident{i}"], promoted) for i in (2, 3, 4)]
    outsider = initiatives.sign(keys["contractor"], promoted)
    batch = initiatives.co_sign(relayer, promoted, [*signed, outsider, signed[0]])
    assert batch.promoted_to is not None and len(batch.skipped) == 2
    initiatives.co_sign(relayer, waiting, [initiatives.sign(keys["resident5"], waiting)])


def _ratings(
    live: LiveSystem,
    client: ApiClient,
    keys: dict[str, LocalAccount],
    proposal: int,
    relayer: LocalAccount,
) -> None:
    """More residents rate the playground the demo completed (one rating skipped)."""
    ratings = RatingsContract(live.w3, client.contracts["ratings"])
    scores = {"resident1": 5, "resident2": 4, "resident3": 4}
    signed = [ratings.sign(keys[k], proposal, score) for k, score in scores.items()]
    batch = ratings.rate(
        relayer, proposal, [*signed, ratings.sign(keys["contractor"], proposal, 1)]
    )
    assert len(batch.rated) == 3 and len(batch.skipped) == 1


def _election(
    live: LiveSystem,
    client: ApiClient,
    keys: dict[str, LocalAccount],
    community: int,
    relayer: LocalAccount,
) -> None:
    """A ranked election the chair opens; three residents' ballots relayed and an outsider's
    skipped; still open when the history ends (counted elections: test_elections_audit.py)."""
    elections = ElectionsContract(live.w3, client.contracts["elections"])
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    params = ElectionParams(community, candidates(3), now, now + 7 * 86_400, 1, ElectionKind.Ranked)
    client.act(keys["chair"], elections.contract.functions.openElection(params.as_tuple()))
    election = int(elections.contract.functions.electionCount().call())
    rankings = {"resident1": [0, 1], "resident2": [1, 0, 2], "resident3": [2]}
    signed = [elections.sign(keys[k], election, encode_ranking(r)) for k, r in rankings.items()]
    outsider = elections.sign(keys["contractor"], election, encode_ranking([0]))
    batch = elections.cast_ballots(relayer, election, [*signed, outsider])
    assert len(batch.cast) == 3 and len(batch.skipped) == 1


def _secret_vote(
    live: LiveSystem,
    client: ApiClient,
    keys: dict[str, LocalAccount],
    community: int,
    trustees: list[LocalAccount],
) -> None:
    """A secret vote the chair opens; its trustees register their keys (the vote stays in its
    key phase; whole votes: test_secret_audit.py)."""
    secret = SecretBallotContract(live.w3, client.contracts["secret"])
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    accounts = tuple(t.address for t in trustees)
    params = SecretVoteParams(community, accounts, 2, now)
    client.act(keys["chair"], secret.contract.functions.openSecretVote(params.as_tuple()))
    vote = int(secret.contract.functions.secretVoteCount().call())
    for k, account in enumerate(trustees, start=1):
        secret.register_key(vote, Trustee(k, account, 2))


def _mandate(
    live: LiveSystem, keys: dict[str, LocalAccount], community: int, relayer: LocalAccount
) -> None:
    """resident5 makes resident6 their proxy for every vote (no proxy ballot yet; proxy ballots
    and overrides, with other residents: test_audit_proxies.py)."""
    mandates = live.deployment.mandates.functions
    resident, proxy = keys["resident5"], keys["resident6"]
    nonce = mandates.nonceOf(resident.address).call()
    mandate = make_mandate(
        community, resident.address, proxy.address, MandateScope.AllVotes, 0, nonce
    )
    domain = MandateDomain(live.client.chain_id, live.deployment.mandates.address)
    signed = sign_mandate(resident, mandate, domain)
    send(live.w3, relayer, mandates.appoint([mandate_call_arg(mandate, signed)]))
    assert mandates.mandateOf(community, resident.address).call().proxy == proxy.address


def _seed_history(
    live: LiveSystem, accounts: list[LocalAccount]
) -> tuple[dict[str, LocalAccount], dict[str, Any], dict[str, Any], str]:
    """The demo, a direct vote, a reversal and the extras above: (keys, made, the receipt
    resident6 keeps, the direct vote's tx hash)."""
    keys = demo_keys(live.data_dir / "demo-keys.json")
    client = live.client
    made = seed_demo(client, keys, lambda _: None, fast_clock=True)
    community = int(made["community"])
    c = client.contracts
    # A direct vote (castVote relayed through the forwarder) on the proposal still open.
    direct = client.act(
        keys["resident5"], c["council"].functions.castVote(made["proposals"]["garden"], 1)
    )
    # A reversal of the first service, signed by both of its sides, sent as a plain transaction.
    record = ServiceRecord(
        keys["resident1"].address,
        keys["resident2"].address,
        90,
        category_code("CARE"),
        Web3.keccak(text="walked resident2's dog for a week"),
        1,
    )
    domain = timebank_domain(client.chain_id, c["timebank"].address)
    reason = Web3.keccak(text="entered twice by mistake")
    rid = record_id(community, record)
    sigs = [
        sign_reversal(keys[k], domain, rid, reason).as_tuple() for k in ("resident1", "resident2")
    ]
    send(
        live.w3,
        accounts[0],
        c["timebank"].functions.reverseService(
            community,
            record.as_tuple(),
            _proof(live.w3, c["timebank"], community, record),
            reason,
            *sigs,
        ),
    )
    _initiatives(live, client, keys, community, accounts[0])
    _ratings(live, client, keys, made["proposals"]["playground"], accounts[0])
    _election(live, client, keys, community, accounts[0])
    _secret_vote(live, client, keys, community, accounts[5:8])
    _mandate(live, keys, community, accounts[0])
    # A ballot whose API receipt a resident keeps (for verify-receipt).
    garden = made["proposals"]["garden"]
    ballot_receipt = client.wait(client.ballot(keys["resident6"], garden, 2)["id"])
    assert ballot_receipt["status"] == "counted"
    return keys, made, ballot_receipt, str(direct["txHash"])


@dataclass
class SeededHistory:
    """The history built once per test process, and the means to put it back as it was seeded:
    the chain by an anvil snapshot, the API's data (outbox, index) by a copy taken while it
    was stopped."""

    live: LiveSystem
    keys: dict[str, LocalAccount]
    made: dict[str, Any]
    ballot_receipt: dict[str, Any]
    direct_vote_tx: str
    chain_snapshot: str = ""
    changed: bool = False  # a module has had it since it was last put back

    @property
    def api_data(self) -> Path:
        return Path(self.live.env["COMMONS_DATA_DIR"])

    @property
    def saved_api_data(self) -> Path:
        return self.live.data_dir / "var-as-seeded"

    def save(self) -> None:
        self.live.stop_api()
        shutil.copytree(self.api_data, self.saved_api_data)
        self.chain_snapshot = str(rpc(self.live.w3, "evm_snapshot"))
        self.live.start_api()

    def rewind(self) -> None:
        """Back to the seeded state, whatever a module did to the chain, the API's databases
        or the API's settings (a reverted snapshot is spent: take it again)."""
        self.live.stop_api()
        assert rpc(self.live.w3, "evm_revert", [self.chain_snapshot])
        self.chain_snapshot = str(rpc(self.live.w3, "evm_snapshot"))
        shutil.rmtree(self.api_data)
        shutil.copytree(self.saved_api_data, self.api_data)
        self.live.start_api()


@pytest.fixture(scope="session")
def seeded_history(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[LocalAccount],
    settings: Settings,
    artifacts: dict[str, Artifact],
) -> Iterator[SeededHistory]:
    """One history for every audit module of the test process (seeding takes ~15 s); each
    module gets it as seeded through `history`."""
    with live_system(tmp_path_factory.mktemp("live"), accounts, settings, artifacts) as live:
        seeded = SeededHistory(live, *_seed_history(live, accounts))
        seeded.save()
        yield seeded


@pytest.fixture(scope="module")
def history(
    seeded_history: SeededHistory,
    tmp_path_factory: pytest.TempPathFactory,
    settings: Settings,
    build_cache: Path,
) -> History:
    """The seeded history for one module, with its own audit data directory (checkpoints,
    reports, anchors); whatever an earlier module changed is undone first (put back before
    a module rather than after it, so the process's last module costs nothing)."""
    seeded = seeded_history
    if seeded.changed:
        seeded.rewind()
    seeded.changed = True
    data_dir = audit_data_dir(tmp_path_factory.mktemp("audit-data"), build_cache)
    return History(
        seeded.live,
        seeded.keys,
        seeded.made,
        int(seeded.made["community"]),
        seeded.ballot_receipt,
        seeded.direct_vote_tx,
        seeded.live.data_dir / "deployments" / "31337.json",
        settings.model_copy(update={"data_dir": data_dir}),
    )


@pytest.fixture(scope="module")
def build(history: History) -> Build:
    return fresh_build(
        history.settings,
        history.record["compiler"],
        history.settings.data_dir / "audit" / "build-cache",
    )


@pytest.fixture
def fresh(history: History) -> Iterator[History]:
    """The history, reverted to its seeded state after the test (faults do not leak)."""
    snapshot = history.snapshot()
    yield history
    history.revert(snapshot)


def findings_of(result: AuditResult, rule: str) -> list[Any]:
    return [f for f in result.findings if f.rule == rule]


FaultFn = Callable[[History], None]


def cli_env(history: History) -> dict[str, str]:
    """Environment for running `commons` in-process against the live chain."""
    return {
        "COMMONS_RPC_URL": history.live.node.url,
        "COMMONS_DATA_DIR": str(history.settings.data_dir),
        "COMMONS_DEPLOYMENTS_DIR": str(history.record_path.parent),
    }


AUDITOR_INDEX = 7  # an anvil account the history does not otherwise use


def auditor_account(accounts: list[LocalAccount]) -> LocalAccount:
    return accounts[AUDITOR_INDEX]


def register_report_key(history: History, auditor: LocalAccount, key_path: Path) -> int:
    """Make `auditor` an AUDITOR of the history's community (granted by its admin, forwarded)
    and register the report key at `key_path` from its account; the registration's block."""
    registry = history.live.client.contracts["registry"]
    cid = history.community
    if not registry.functions.hasRole(cid, Roles.AUDITOR, auditor.address).call():
        history.live.client.act(
            history.keys["admin"],
            registry.functions.grantRole(cid, Roles.AUDITOR, auditor.address),
        )
    fp = fingerprint(raw_public_key(load_public_key(key_path)))
    receipt = RegistryContract(history.w3, registry).register_auditor_key(auditor, cid, fp)
    return int(receipt["blockNumber"])
