"""ledger.protocol says what the compiled contracts say: the checked-in modules are what the
build renders from them, the constants agree with the deployed contracts, and every custom
error has an HTTP status and a line in docs/errors.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic, function_abi_to_4byte_selector
from eth_utils.crypto import keccak
from web3 import Web3

from ledger.build import Artifact, load_protocol
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.protocol import render
from ledger.protocol.generated import (
    ERRORS_BY_SELECTOR,
    EVENTS_BY_TOPIC,
    BallotKind,
    Constants,
    Domain,
    Domains,
    Errors,
    Events,
    Functions,
    GrantState,
    ProposalView,
    Roles,
    SkipReason,
    Types,
)
from ledger.protocol.statuses import CONTRACT_ERRORS, RELAY_REFUSALS, status_of
from tests.relay_support import open_election

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec(settings: Settings, artifacts: dict[str, Artifact]) -> dict[str, Any]:
    """What the current build read from the contracts (`artifacts` brings the build up to date)."""
    return load_protocol(settings)


def _names(spec: dict[str, Any], kind: str) -> set[str]:
    return {entry["name"] for entry in spec[kind].values()}


@pytest.mark.parametrize(
    ("path", "renderer"),
    [
        (render.PYTHON_MODULE, render.render_python),
        (render.TYPESCRIPT_MODULE, render.render_typescript),
    ],
)
def test_checked_in_protocol_module_is_what_the_contracts_render(
    spec: dict[str, Any], path: Path, renderer: Callable[[dict[str, Any]], str]
) -> None:
    expected = renderer(spec)
    assert (ROOT / path).read_text() == expected, (
        f"{path} is out of date with the contracts: run `commons build`"
    )


def test_typehashes_are_keccak_of_their_type_strings() -> None:
    for typed in vars(Types).values():
        if isinstance(typed, tuple):
            assert typed.typehash == keccak(text=typed.type_string)
            fields = ",".join(f"{t} {n}" for n, t in typed.fields)
            assert typed.type_string == f"{typed.name}({fields})"


def test_ballot_typehash_and_roles_are_the_deployed_contracts(system: Deployment) -> None:
    assert system.council.functions.BALLOT_TYPEHASH().call() == Types.Ballot.typehash
    for role in ("COMMITTEE", "REGISTRAR", "COORDINATOR", "AUDITOR"):
        assert getattr(system.registry.functions, role)().call() == getattr(Roles, role)


def test_every_integer_constant_is_what_each_deployed_contract_declaring_it_returns(
    system: Deployment,
) -> None:
    numbers = {k: v for k, v in vars(Constants).items() if not k.startswith("_")}
    assert numbers["SECRET_TALLY_GRACE"] == 30 * 86_400  # `30 days`, unit applied
    assert numbers["NO_WINNER"] == 255  # `type(uint8).max`
    read: dict[str, list[int]] = {}
    for contract in system.contracts.values():
        getters = {i["name"] for i in contract.abi if i["type"] == "function" and not i["inputs"]}
        for name in numbers.keys() & getters:
            read.setdefault(name, []).append(getattr(contract.functions, name)().call())
    assert {name: set(values) for name, values in read.items()} == {
        name: {value} for name, value in numbers.items()
    }


@pytest.mark.parametrize(
    ("key", "domain"),
    [
        ("council", Domains.Council),
        ("timebank", Domains.TimeBank),
        ("forwarder", Domains.CommonsForwarder),
    ],
)
def test_domains_are_what_the_deployed_contracts_report(
    system: Deployment, key: str, domain: Domain
) -> None:
    reported = system.contracts[key].functions.eip712Domain().call()  # ERC-5267
    assert (reported.name, reported.version) == domain


def test_topics_and_selectors_agree_with_eth_utils(
    spec: dict[str, Any], artifacts: dict[str, Artifact]
) -> None:
    topics = set(EVENTS_BY_TOPIC)
    selectors = set(ERRORS_BY_SELECTOR)
    functions = {f.selector for f in vars(Functions).values() if isinstance(f, tuple)}
    for name in spec["contracts"]:
        for entry in artifacts[name].abi:
            if entry["type"] == "event":
                assert event_abi_to_log_topic(entry) in topics, entry["name"]  # type: ignore[arg-type]
            elif entry["type"] == "error":
                assert function_abi_to_4byte_selector(entry) in selectors, entry["name"]  # type: ignore[arg-type]
            elif entry["type"] == "function":
                assert function_abi_to_4byte_selector(entry) in functions, entry["name"]  # type: ignore[arg-type]
    assert Events.BallotCast.topic == keccak(text=Events.BallotCast.signature)
    assert EVENTS_BY_TOPIC[Events.RollUpdated.topic].name == "RollUpdated"


def test_a_view_struct_reads_by_field_name(
    w3: Web3, system: Deployment, accounts: list[LocalAccount]
) -> None:
    proposal_id, _ = open_election(w3, system, accounts, voters=2, tag=91)
    view = system.council.functions.getProposal(proposal_id).call()
    assert view._fields == ProposalView._fields
    typed = ProposalView(*view)
    assert typed.closesAt > typed.opensAt
    assert typed.kind == BallotKind.YesNoAbstain


def test_enums_keep_solidity_member_names_and_values() -> None:
    assert SkipReason.AlreadyVoted == 5
    assert SkipReason(4).name == "NotOnRoll"
    assert GrantState.None_ == 0


def test_every_contract_error_has_a_status_and_the_table_names_no_other(
    spec: dict[str, Any],
) -> None:
    errors = _names(spec, "errors")
    assert set(CONTRACT_ERRORS) - errors == set(), "the table names errors no contract has"
    assert errors - set(CONTRACT_ERRORS) == set(), "contract errors without an HTTP status"
    assert not set(RELAY_REFUSALS) & errors


def test_statuses_come_from_the_table() -> None:
    assert status_of("AlreadyVoted") == 409
    assert status_of("NotCommittee") == 403
    assert status_of("NotOnRoll") == 422
    assert status_of("InvalidNonce") == 409
    assert status_of(Errors.ZeroAmount.name) == 422


def test_every_relay_refusal_code_has_a_status() -> None:
    raised = set()
    for path in (ROOT / "ledger").rglob("*.py"):
        raised |= set(re.findall(r'InvalidMessage\(\s*"(\w+)"', path.read_text()))
    assert raised - set(RELAY_REFUSALS) - set(CONTRACT_ERRORS) == set()


def test_docs_errors_names_every_error(spec: dict[str, Any]) -> None:
    documented = set(re.findall(r"`(\w+)[(`]", (ROOT / "docs" / "errors.md").read_text()))
    missing = (_names(spec, "errors") | set(RELAY_REFUSALS)) - documented
    assert missing == set(), f"docs/errors.md does not list {sorted(missing)}"
