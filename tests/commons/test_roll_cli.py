"""`commons roll` against a real chain and API: every subcommand, a CSV refused whole for a bad
row (named by its line), and an import run again that skips everyone already on the roll."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner, Result
from web3 import Web3

from commons.roll_cli import roll_app
from ledger import admin, roll
from ledger.admin import AdminChain
from ledger.keystore import Keystore
from ledger.signing.joins import sign_join
from tests.e2e.conftest import LiveSystem, new_accounts
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)

PASSPHRASE = "correct horse battery staple"
TEST_N = 1024  # scrypt cost of the test's key files
REGISTRAR = Web3.keccak(text="REGISTRAR")
FORWARD_MAX_GAS = 10_000_000


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    """A chain and the API server on it (tests/e2e/conftest.py's fixture)."""
    system: LiveSystem = request.getfixturevalue("_live")
    return system


@dataclass
class Office:
    id: int
    registrar: LocalAccount
    env: dict[str, str]
    live: LiveSystem

    def roll(self, *args: str, passphrase: bool = True) -> Result:
        """`commons roll *args` (with --community), the passphrase on a pipe."""
        args = (*args, "--community", str(self.id))
        if passphrase:
            read_end, write_end = os.pipe()
            os.write(write_end, PASSPHRASE.encode() + b"\n")
            os.close(write_end)
            args = (*args, "--passphrase-fd", str(read_end))
        return CliRunner().invoke(roll_app, list(args), env=self.env)

    def ok(self, *args: str, passphrase: bool = True) -> str:
        result = self.roll(*args, passphrase=passphrase)
        assert result.exit_code == 0, (args, result.output)
        return result.output

    def chain(self) -> AdminChain:
        return AdminChain(self.live.w3, self.live.deployment)


@pytest.fixture(scope="module")
def office(live: LiveSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    admin_account, registrar = new_accounts(2)
    registry = live.client.contracts["registry"]
    live.client.act(admin_account, registry.functions.createCommunity(Web3.keccak(text="roll")))
    cid: int = registry.functions.communityCount().call()
    done = live.client.forward(
        admin_account, registry.functions.grantRole(cid, REGISTRAR, registrar.address)
    )
    live.client.wait_indexed(live.client.wait(done["id"])["block"])
    keys = tmp_path_factory.mktemp("keys")
    Keystore(keys, TEST_N).add("registrar", bytes(registrar.key), PASSPHRASE)
    Keystore(keys, TEST_N).add("stranger", bytes(Account.create().key), PASSPHRASE)
    env = {k: v for k, v in live.env.items() if k.startswith("COMMONS_")}
    env |= {"COMMONS_KEYSTORE_DIR": str(keys), "COMMONS_KEYSTORE_SCRYPT_N": str(TEST_N)}
    yield Office(cid, registrar, env, live)


def ask_to_join(office: Office, resident: LocalAccount) -> str:
    deployment = office.live.deployment
    request = sign_join(
        resident, office.id, int(time.time()), deployment.chain_id, deployment.registry.address
    )
    answer = office.live.client.post(f"/v1/communities/{office.id}/joins", request.to_json())
    return str(answer["code"])


def test_a_join_request_is_listed_checked_and_added_by_its_code_with_the_person(
    office: Office,
) -> None:
    resident = Account.create()
    code = ask_to_join(office, resident)
    listed = office.ok("pending", "--key", "registrar")
    line = next(x for x in listed.splitlines() if x.startswith(code))
    assert resident.address in line and "pending" in line and "signature checked" in line
    added = office.ok("add", code, "--person", "Wang Fang, building 3, unit 402",
                      "--key", "registrar")  # fmt: skip
    assert f"join request {code}: {resident.address}, signature checked" in added
    assert f"recorded who {resident.address} is (off-chain)" in added
    assert office.live.deployment.registry.functions.isResident(office.id, resident.address).call()
    # The API reads the roll from its index, which follows the chain within a moment.
    office.live.client.wait_indexed(office.live.w3.eth.block_number)
    assert code not in office.ok("pending", "--key", "registrar")
    registrar = roll.RegistrarApi(office.live.url, office.registrar)
    people = httpx.get(
        f"{office.live.url}/v1/communities/{office.id}/people", headers=registrar._headers()
    ).json()["items"]
    assert {"address": resident.address, "person": "Wang Fang, building 3, unit 402"}.items() <= (
        next(p for p in people if p["address"] == resident.address).items()
    )


def test_add_stage_then_publish_and_show_marks_the_staged_change(office: Office) -> None:
    resident = Account.create()
    office.ok("add", resident.address, "--stage", "--key", "registrar")
    shown = office.ok("show", passphrase=False)
    assert f"+ {resident.address}" in shown and "1 joining" in shown
    published = office.ok("publish", "--key", "registrar")
    assert f"done: put community {office.id}'s staged roll in force" in published
    assert f"  {resident.address}" in office.ok("show", passphrase=False)
    removed = office.ok("remove", resident.address, "--key", "registrar")
    assert "remove 1 residents" in removed
    assert resident.address not in office.ok("show", passphrase=False)


def test_a_dry_run_simulates_and_sends_nothing(office: Office) -> None:
    resident = Account.create()
    out = office.ok("add", resident.address, "--dry-run", "--key", "registrar", passphrase=False)
    assert "dry run: checked and simulated; nothing was signed or sent" in out
    assert "simulated gas:" in out
    assert resident.address not in office.ok("show", passphrase=False)


def test_a_stranger_is_refused_in_one_line_before_signing(office: Office) -> None:
    result = office.roll("add", Account.create().address, "--key", "stranger", passphrase=False)
    assert result.exit_code == 1
    assert result.output.strip().endswith(f"does not hold REGISTRAR in community {office.id}")
    assert len(result.output.strip().splitlines()) == 1


def test_a_csv_with_bad_rows_is_refused_naming_the_first_line(
    office: Office, tmp_path: Path
) -> None:
    good = Account.create().address
    path = tmp_path / "residents.csv"
    path.write_text(
        f"address,person\n{good},Li Lei\nnot-an-address,Han Meimei\n"
        f"{good.lower()},again\n{good[:-1] + ('0' if good[-1] != '0' else '1')},typo\n"
    )
    result = office.roll("import", str(path), "--key", "registrar", passphrase=False)
    assert result.exit_code == 1
    assert f"{path} line 3: 'not-an-address' is not an address (3 bad rows in all)" in result.output
    assert result.output.strip().endswith("nothing was sent")
    assert good not in office.ok("show", passphrase=False)
    path.write_text(f"person\n{good}\n")
    result = office.roll("import", str(path), "--key", "registrar", passphrase=False)
    assert result.exit_code == 1 and "`address`" in result.output


def test_import_adds_in_batches_records_people_and_a_rerun_skips_everyone(
    office: Office, tmp_path: Path
) -> None:
    residents = [Account.create().address for _ in range(7)]
    path = tmp_path / "residents.csv"
    lines = [f"{a},Flat {n}" if n % 2 else f"{a}," for n, a in enumerate(residents)]
    path.write_text("Address,Person\n" + "\n".join(lines) + "\n")
    out = office.ok("import", str(path), "--batch-size", "3", "--key", "registrar")
    assert "7 residents; 0 already on the roll (skipped), 7 to add in 3 batches of up to 3" in out
    assert "1/3 done" in out and "3/3 done" in out
    assert "recorded who 3 residents are (off-chain)" in out
    now = roll.read_roll(office.chain(), office.id)
    assert set(residents) <= now.published and now.published == now.staged
    again = office.ok("import", str(path), "--key", "registrar")
    assert "7 already on the roll (skipped), 0 to add in 0 batches" in again
    assert "done" not in again


def test_an_interrupted_import_is_published_by_the_next_run(office: Office, tmp_path: Path) -> None:
    residents = [Account.create().address for _ in range(2)]
    path = tmp_path / "residents.csv"
    path.write_text("address\n" + "\n".join(residents) + "\n")
    office.ok("import", str(path), "--stage", "--key", "registrar")
    assert residents[0] not in roll.read_roll(office.chain(), office.id).published
    out = office.ok("import", str(path), "--key", "registrar")
    assert "2 already on the roll (skipped)" in out and "put community" in out
    assert set(residents) <= roll.read_roll(office.chain(), office.id).published


def test_a_full_batch_fits_one_forward_request(office: Office) -> None:
    batch = [Account.create().address for _ in range(roll.BATCH_SIZE)]
    call = admin.update_roll(office.id, batch, [], True)
    gas = admin.preflight(office.chain(), call, office.registrar.address)
    print(f"updateRoll of {roll.BATCH_SIZE} new residents: {gas} gas")
    assert gas * admin.GAS_MARGIN < FORWARD_MAX_GAS


@pytest.mark.parametrize("act", ["add", "remove", "publish", "import"])
def test_every_roll_act_offers_a_dry_run_relay_or_direct_and_a_key(act: str) -> None:
    result = CliRunner().invoke(roll_app, [act, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--dry-run", "--via", "--key", "--passphrase-fd", "--api", "--rpc"):
        assert option in result.output, (act, option)
