"""Every admin act also as a brownie script, on the same ledger.admin code as `commons admin`:
the admin handed over in two steps (offered, withdrawn, offered again, accepted), a role
revoked, the roll updated from a file, an auditor's report key registered and revoked; each read
back from the chain; a bad file, and a proposal its signer may not open, refused in one line
before anything is sent."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.config import Settings
from ledger.protocol.generated import Roles
from tests.e2e.conftest import LiveSystem
from tests.e2e.conftest import live as live

BROWNIE = str(Path(sys.executable).parent / "brownie")
ZERO = "0x0000000000000000000000000000000000000000"


class Brownie:
    def __init__(self, live: LiveSystem, settings: Settings, network: str) -> None:
        self.root = settings.project_root
        self.env = {**live.env, "SOLCX_BINARY_PATH": str(settings.solc_binary_dir)}
        self.network = network

    def run(self, script: str, fn: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BROWNIE, "run", f"scripts/{script}", fn, *args, "--network", self.network],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=900,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def ok(self, script: str, fn: str, *args: str) -> str:
        result = self.run(script, fn, *args)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout


@pytest.fixture
def brownie(live: LiveSystem, settings: Settings) -> Iterator[Brownie]:
    b = Brownie(live, settings, f"commons-scripts-{uuid.uuid4().hex[:8]}")
    add = [BROWNIE, "networks", "add", "Ethereum", b.network, f"host={live.node.url}",
           "chainid=31337"]  # fmt: skip
    subprocess.run(add, env=b.env, check=True, capture_output=True, timeout=120)
    try:
        yield b
    finally:
        subprocess.run(
            [BROWNIE, "networks", "delete", b.network], env=b.env, capture_output=True, timeout=120
        )


def test_every_admin_act_runs_as_a_brownie_script(
    live: LiveSystem, accounts: list[LocalAccount], brownie: Brownie, tmp_path: Path
) -> None:
    registry = live.client.contracts["registry"].functions
    first, second, registrar, auditor = (accounts[i].address for i in (1, 2, 3, 4))
    out = brownie.ok("create_community.py", "main", "Elm Row tenants", "-", "1")
    community = registry.communityCount().call()
    assert f"community {community} created" in out
    assert registry.communityAdmin(community).call() == first
    c = str(community)

    # The handover: offered, withdrawn, offered again, accepted by the new admin's own account.
    assert "AdminTransferStarted" in brownie.ok("transfer_admin.py", "main", c, second, "1")
    assert registry.pendingAdmin(community).call() == second
    assert "AdminTransferCancelled" in brownie.ok("transfer_admin.py", "cancel", c, "1")
    assert registry.pendingAdmin(community).call() == ZERO
    brownie.ok("transfer_admin.py", "main", c, second, "1")
    assert "AdminTransferred" in brownie.ok("transfer_admin.py", "accept", c, "2")
    assert registry.communityAdmin(community).call() == second

    # The old admin can no longer act: one line, nothing sent.
    refused = brownie.run("grant_role.py", "main", c, "REGISTRAR", registrar, "1")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ")

    # The roll from files, then the registrar's role revoked.
    brownie.ok("grant_role.py", "main", c, "REGISTRAR", registrar, "2")
    residents = [Account.create().address for _ in range(3)]
    added = tmp_path / "added.txt"
    added.write_text("".join(f"{r}\n" for r in residents))
    assert "RollPublished" in brownie.ok("update_roll.py", "main", c, str(added), "-", "3")
    assert all(registry.isResident(community, r).call() for r in residents)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{residents[0]}\nnot-an-address\n")
    refused = brownie.run("update_roll.py", "main", c, "-", str(bad), "3")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "entry 2 is not an address" in refused.stderr
    assert registry.isResident(community, residents[0]).call(), "nothing was sent"
    assert "RoleRevoked" in brownie.ok("revoke_role.py", "main", c, "REGISTRAR", registrar, "2")
    assert not registry.hasRole(community, Roles.REGISTRAR, registrar).call()

    # An auditor's report key, registered by the auditor and revoked.
    brownie.ok("grant_role.py", "main", c, "AUDITOR", auditor, "2")
    fingerprint = "0x" + uuid.uuid4().hex * 2
    assert "AuditorKeyRegistered" in brownie.ok("auditor_key.py", "main", c, fingerprint, "4")
    _, holder, _, revoked_at = registry.auditorKey(bytes.fromhex(fingerprint[2:])).call()
    assert holder == auditor and revoked_at == 0
    assert "AuditorKeyRevoked" in brownie.ok("auditor_key.py", "revoke", fingerprint, "4")
    _, _, _, revoked_at = registry.auditorKey(bytes.fromhex(fingerprint[2:])).call()
    assert revoked_at > 0

    # A proposal is refused in one line before its text is stored or anything is sent: a text
    # file that is not there, options that are neither yes-no nor a number, a signer who is not
    # on the committee.
    council = live.client.contracts["council"].functions
    before = council.proposalCount().call()
    refused = brownie.run("open_proposal.py", "main", c, str(tmp_path / "missing.md"))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "cannot read" in refused.stderr and "missing.md" in refused.stderr
    text = tmp_path / "racks.md"
    text.write_text("# Bike racks by the gate\n", encoding="utf-8")
    refused = brownie.run("open_proposal.py", "main", c, str(text), "maybe")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "OPTIONS is yes-no or a number of choices" in refused.stderr
    refused = brownie.run("open_proposal.py", "main", c, str(text), "yes-no", "7d", "30", "50", "4")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ")
    assert council.proposalCount().call() == before
