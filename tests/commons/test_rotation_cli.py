"""`commons roll replace OLD NEW` against a live chain and API (the demo community;
each test replaces other residents, as the relay would resend what a chain revert dropped):
a dry run prints both steps and changes nothing; through the relay (gasless) or directly the
old key is replaced and its balance follows the new one; a refusal is one line with exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from commons.demo import demo_keys, seed_demo
from ledger.keystore import Keystore
from ledger.node import rpc
from tests.e2e.conftest import LiveSystem
from tests.e2e.conftest import live as live

COMMONS = str(Path(sys.executable).parent / "commons")
PASSPHRASE = "the registrar's passphrase"
TEST_N = 1024


@dataclass
class Town:
    live: LiveSystem
    keys: dict[str, LocalAccount]
    community: int
    env: dict[str, str]

    def commons(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`commons roll *args --key registrar`, the passphrase on a pipe."""
        read_end, write_end = os.pipe()
        os.write(write_end, PASSPHRASE.encode() + b"\n")
        os.close(write_end)
        argv = [COMMONS, "roll", *args, "--community", str(self.community), "--key",
                "registrar", "--passphrase-fd", str(read_end), "--api", self.live.url]  # fmt: skip
        try:
            result = subprocess.run(
                argv, env=self.env, capture_output=True, text=True, timeout=180,
                stdin=subprocess.DEVNULL, pass_fds=(read_end,),
            )  # fmt: skip
        finally:
            os.close(read_end)
        if check:
            assert result.returncode == 0, (result.stdout, result.stderr)
        return result

    def balance(self, address: str) -> int:
        bank = self.live.client.contracts["timebank"]
        return int(bank.functions.balanceOf(self.community, address).call())

    def new_key_of(self, address: str) -> str:
        registry = self.live.client.contracts["registry"]
        return str(registry.functions.newKeyOf(self.community, address).call())


@pytest.fixture(scope="module")
def town(live: LiveSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    keys = demo_keys(live.data_dir / "demo-keys.json")
    made = seed_demo(live.client, keys, lambda _: None, fast_clock=True)
    keystore_dir = tmp_path_factory.mktemp("keys")
    Keystore(keystore_dir, TEST_N).add("registrar", keys["registrar"].key, PASSPHRASE)
    env = {**live.env, "COMMONS_KEYSTORE_DIR": str(keystore_dir)}
    yield Town(live, keys, int(made["community"]), env)


def test_replace_resident_through_the_relay_moves_the_balance_gaslessly(town: Town) -> None:
    old, new = town.keys["resident1"].address, Account.create().address
    balance = town.balance(old)
    assert balance != 0
    out = town.commons("replace", old, new).stdout
    assert f"{old} replaced by {new}" in out and f"({balance} minutes)" in out
    assert town.new_key_of(old) == new
    assert (town.balance(new), town.balance(old)) == (balance, 0)
    assert town.live.w3.eth.get_balance(town.keys["registrar"].address) == 0
    history = subprocess.run(
        [COMMONS, "admin", "history", "--community", str(town.community)],
        env=town.env, capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    assert "ResidentReplaced(" in history and "BalanceCarriedOver(" in history


def test_replace_resident_directly_from_the_registrars_account(town: Town) -> None:
    registrar = town.keys["registrar"].address
    rpc(town.live.w3, "anvil_setBalance", [registrar, hex(10**18)])
    old, new = town.keys["resident2"].address, Account.create().address
    balance = town.balance(old)
    town.commons("replace", old, new, "--via", "direct")
    assert (town.balance(new), town.new_key_of(old)) == (balance, new)


def test_dry_run_prints_both_steps_and_changes_nothing(town: Town) -> None:
    old, new = town.keys["resident5"].address, Account.create().address
    out = town.commons("replace", old, new, "--dry-run").stdout
    assert "step 1:" in out and "replaceResident(uint256,address,address)" in out
    assert "step 2, once 1 is mined:" in out and "carryOver(uint256,address)" in out
    assert "nothing was signed or sent" in out
    assert int(town.new_key_of(old), 16) == 0


def test_new_key_that_was_on_the_roll_refused_in_one_line(town: Town) -> None:
    old, taken = town.keys["resident5"].address, town.keys["resident6"].address
    result = town.commons("replace", old, taken, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "must be a fresh one" in line


def test_second_replacement_of_the_same_key_refused_in_one_line(town: Town) -> None:
    old = town.keys["resident3"].address
    town.commons("replace", old, Account.create().address)
    result = town.commons("replace", old, Account.create().address, check=False)
    assert result.returncode == 1
    assert "was already replaced by" in result.stderr


def test_carry_over_alone_refused_without_a_rotation(town: Town) -> None:
    result = town.commons("carry-over", town.keys["resident4"].address, check=False)
    assert result.returncode == 1
    assert "RotationNotRecorded" in result.stderr


def test_both_commands_offer_a_dry_run_relay_or_direct_and_a_key() -> None:
    for act in ("replace", "carry-over"):
        shown = subprocess.run(
            [COMMONS, "roll", act, "--help"], capture_output=True, text=True, timeout=60,
            env={**os.environ, "COLUMNS": "200"}, check=True,
        ).stdout  # fmt: skip
        for option in ("--dry-run", "--via", "--key", "--passphrase-fd", "--community"):
            assert option in shown, (act, option)


# Last in the module: it replaces a committee member's key, which the tests above do not use.
def test_a_replaced_key_that_holds_roles_is_named_with_the_admins_two_steps(town: Town) -> None:
    old, new = town.keys["secretary"].address, Account.create().address
    dry = town.commons("replace", old, new, "--dry-run").stdout
    assert f"note: {old} still holds COMMITTEE in community {town.community}" in dry
    out = town.commons("replace", old, new).stdout
    assert f"{old} replaced by {new}" in out
    assert f"note: {old} still holds COMMITTEE in community {town.community}" in out
    assert f"commons admin revoke ROLE {old} --community {town.community}" in out
    assert f"commons admin grant ROLE {new} --community {town.community}" in out
    plain = town.keys["resident6"].address
    assert "still holds" not in town.commons("replace", plain, Account.create().address).stdout
