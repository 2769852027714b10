"""The admin path: `brownie run scripts/deploy.py` against a fresh anvil deploys through the
same ledger.deploy code and writes the same kind of record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.config import Settings
from ledger.deploy import PLAN
from ledger.keystore import Keystore
from ledger.node import ephemeral_node


@pytest.mark.parametrize("key_from", ["env", "keystore"])
def test_brownie_deploy_script_deploys_the_system(
    settings: Settings, accounts: list[LocalAccount], tmp_path: Path, key_from: str
) -> None:
    brownie = str(Path(sys.executable).parent / "brownie")
    name = f"commons-smoke-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "SOLCX_BINARY_PATH": str(settings.solc_binary_dir),
        "COMMONS_DEPLOYMENTS_DIR": str(tmp_path),
    }
    # anvil's first development key: public, valid only on this throwaway chain
    key = bytes(accounts[0].key)
    passphrase_fds: tuple[int, ...] = ()
    if key_from == "env":
        env["COMMONS_DEPLOYER_KEY"] = "0x" + key.hex()
    else:  # kept encrypted in a keystore, its passphrase on a pipe
        Keystore(tmp_path / "keys", scrypt_n=1024).add("admin", key, "admin passphrase")
        read_end, write_end = os.pipe()
        os.write(write_end, b"admin passphrase\n")
        os.close(write_end)
        passphrase_fds = (read_end,)
        env |= {
            "COMMONS_KEYSTORE_DIR": str(tmp_path / "keys"),
            "COMMONS_DEPLOYER_KEYSTORE": "admin",
            "COMMONS_DEPLOYER_PASSPHRASE_FD": str(read_end),
        }
    with ephemeral_node(settings) as node:
        add = [brownie, "networks", "add", "Ethereum", name, f"host={node.url}", "chainid=31337"]
        subprocess.run(add, env=env, check=True, capture_output=True, timeout=120)
        try:
            result = subprocess.run(
                [brownie, "run", "scripts/deploy.py", "--network", name],
                cwd=settings.project_root,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                stdin=subprocess.DEVNULL,
                pass_fds=passphrase_fds,
            )
        finally:
            for fd in passphrase_fds:
                os.close(fd)
            subprocess.run(
                [brownie, "networks", "delete", name], env=env, capture_output=True, timeout=120
            )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        record = json.loads((tmp_path / "31337.json").read_text())
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert record["deployer"] == accounts[0].address
        for key, _, _ in PLAN:
            assert len(w3.eth.get_code(record["contracts"][key]["address"])) > 0, key
