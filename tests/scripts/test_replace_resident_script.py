"""`brownie run scripts/replace_resident.py` replaces a demo resident's key and carries the
balance over through the same ledger.rotation code as `commons roll replace`, from
brownie's first account (made a REGISTRAR of the demo community first)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from commons.demo import demo_keys, seed_demo
from ledger.config import Settings
from ledger.protocol.generated import Roles
from tests.e2e.conftest import LiveSystem
from tests.e2e.conftest import live as live

BROWNIE = str(Path(sys.executable).parent / "brownie")


def test_brownie_script_replaces_the_key_and_the_balance_follows(
    live: LiveSystem, accounts: list[LocalAccount], settings: Settings
) -> None:
    keys = demo_keys(live.data_dir / "demo-keys.json")
    cid = int(seed_demo(live.client, keys, lambda _: None, fast_clock=True)["community"])
    registry, bank = live.client.contracts["registry"], live.client.contracts["timebank"]
    grant = registry.functions.grantRole(cid, Roles.REGISTRAR, accounts[0].address)
    live.client.act(keys["admin"], grant)
    old, new = keys["resident2"].address, Account.create().address
    balance = bank.functions.balanceOf(cid, old).call()
    env = {**live.env, "SOLCX_BINARY_PATH": str(settings.solc_binary_dir)}
    name = f"commons-rotation-{uuid.uuid4().hex[:8]}"
    add = [BROWNIE, "networks", "add", "Ethereum", name, f"host={live.node.url}", "chainid=31337"]
    subprocess.run(add, env=env, check=True, capture_output=True, timeout=120)
    try:
        result = subprocess.run(
            [BROWNIE, "run", "scripts/replace_resident.py", "main", str(cid), old, new, "0",
             "--network", name],
            cwd=settings.project_root, env=env, capture_output=True, text=True, timeout=900,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    finally:
        subprocess.run(
            [BROWNIE, "networks", "delete", name], env=env, capture_output=True, timeout=120
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{old} replaced by {new}" in result.stdout
    assert f"BalanceCarriedOver ({balance} minutes)" in result.stdout
    assert registry.functions.newKeyOf(cid, old).call() == new
    assert bank.functions.balanceOf(cid, new).call() == balance
