"""`commons backup` taken while `commons run` is under load, and `commons restore` on a fresh
data dir: the real CLI in subprocesses, each system on free ports with a private data dir."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from commons.api_client import ApiClient
from ledger import backup as backup_module
from ledger.build import Artifact
from ledger.deploy import load_deployment
from ledger.node import child_pids, ephemeral_node, make_web3
from ledger.signing.services import ServiceRecord, category_code
from ledger.tx import send
from tests.e2e.test_supervision import COMMONS, Running, start, stop_by_pid, wait_for
from tests.relay_support import open_election

RESIDENTS = 40
# What a data dir's key files look like: an encrypted keystore, and two plaintext keys.
KEY_FILES = {
    "keys/resident.json": '{"version": 3, "crypto": {"cipher": "aes-128-ctr"}}',
    "audit/auditor-key.pem": "-----BEGIN PRIVATE KEY-----\n",
    "demo/keys.json": '{"0xabc": "0x01"}',
}


def commons(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMONS, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Load:
    """Ballots (one per resident) and service records (resident i serves resident i+1 for
    10+i minutes, nonce 1) sent through the API one after another; each acknowledgement is
    kept with the moment it came back."""

    client: ApiClient
    community: int
    proposal: int
    residents: list[LocalAccount]
    acked: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    thread: threading.Thread | None = None
    # The last third waits for this: the load goes on after the backup, whatever its pace.
    backup_taken: threading.Event = field(default_factory=threading.Event)

    def service(self, i: int) -> ServiceRecord:
        provider, recipient = self.residents[i], self.residents[(i + 1) % len(self.residents)]
        return ServiceRecord(
            provider.address, recipient.address, 10 + i, category_code("CARE"), b"\x05" * 32, 1
        )

    def run(self) -> None:
        for i, resident in enumerate(self.residents):
            if i == len(self.residents) * 2 // 3:
                self.backup_taken.wait(120)
            ballot = self.client.ballot(resident, self.proposal, i % 3)
            self.acked.append((time.monotonic(), f"ballot {i}", ballot))
            recipient = self.residents[(i + 1) % len(self.residents)]
            done = self.client.service(self.community, self.service(i), resident, recipient)
            self.acked.append((time.monotonic(), f"service {i}", done))
            time.sleep(0.05)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()


@pytest.fixture
def systems() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for system in started:
        stop_by_pid(system)


def open_community(
    system: Running, accounts: list[LocalAccount], artifacts: dict[str, Artifact]
) -> Load:
    w3 = make_web3(f"http://127.0.0.1:{system.settings.anvil_port}")
    deployment = load_deployment(w3, system.settings)
    proposal, residents = open_election(w3, deployment, accounts, voters=RESIDENTS, tag=9)
    community = deployment.registry.functions.communityCount().call()
    send(w3, accounts[1], deployment.timebank.functions.setLimits(community, -600, 6000))
    client = ApiClient(system.api_url, w3, artifacts)
    return Load(client, community, proposal, residents)


def test_backup_under_load_restores_every_message_acknowledged_before_it_exactly_once(
    tmp_path: Path,
    systems: list[Running],
    accounts: list[LocalAccount],
    artifacts: dict[str, Artifact],
) -> None:
    (tmp_path / "source").mkdir()
    source = start(tmp_path / "source")
    systems.append(source)
    load = open_community(source, accounts, artifacts)
    load.start()
    wait_for("a third of the load acknowledged", lambda: len(load.acked) >= RESIDENTS // 3, 60)
    # Some of it on the chain before the pause, whatever the relay's pace, so the dump holds it.
    load.client.wait(load.acked[0][2]["id"], timeout=60)
    # The relay worker paused: what is acknowledged meanwhile waits in the outbox, not on the
    # chain the backup dumps.
    workers = child_pids(source.api_pid())
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    paused_at = len(load.acked)
    wait_for("more acknowledged while the relay waits", lambda: len(load.acked) >= paused_at + 2)
    backup_file = tmp_path / "community.backup"
    began = time.monotonic()
    taken = commons(source.env, "backup", str(backup_file))
    for pid in workers:
        os.kill(pid, signal.SIGCONT)
    load.backup_taken.set()
    assert taken.returncode == 0, taken.stderr
    assert "dumping the running chain" in taken.stdout
    assert load.thread is not None and load.thread.is_alive(), "the load goes on after the backup"
    before = [(what, ack) for at, what, ack in load.acked if at < began]
    load.thread.join(120)
    assert len(load.acked) == RESIDENTS * 2
    final = load.client.wait_all([ack for _, _, ack in load.acked], timeout=60)
    assert {r["status"] for r in final} == {"counted"}
    with tarfile.open(backup_file) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    dumped = manifest["head"]["number"]
    landed = {r["id"]: r["block"] for r in final}
    assert any(landed[ack["id"]] <= dumped for _, ack in before)
    assert any(landed[ack["id"]] > dumped for _, ack in before), "some wait in the outbox copy"
    busy = commons(source.env, "restore", str(backup_file), "--force")
    assert busy.returncode == 1 and f"a node is running on {source.settings.data_dir}" in (
        busy.stderr
    )
    stop_by_pid(source)

    target = tmp_path / "restored"
    env = {
        **source.env,
        "COMMONS_DATA_DIR": str(target / "var"),
        "COMMONS_DEPLOYMENTS_DIR": str(target / "deployments"),
    }
    restored_out = commons(env, "restore", str(backup_file))
    assert restored_out.returncode == 0, restored_out.stderr
    restored = start(target)
    systems.append(restored)
    w3 = make_web3(f"http://127.0.0.1:{restored.settings.anvil_port}")
    deployment = load_deployment(w3, restored.settings)
    assert "0x" + w3.eth.get_block(dumped)["hash"].hex() == manifest["head"]["hash"]
    client = ApiClient(restored.api_url, w3, artifacts)
    # The relay settles: every message acknowledged before the backup is counted again.
    settled = client.wait_all([ack for _, ack in before], timeout=90)
    assert {r["status"] for r in settled} == {"counted"}, settled
    council, timebank = deployment.council, deployment.timebank
    voted = [i for i, r in enumerate(load.residents)
             if council.functions.hasVoted(load.proposal, r.address).call()]  # fmt: skip
    ballots_before = {int(what.split()[1]) for what, _ in before if what.startswith("ballot")}
    assert ballots_before <= set(voted)
    # Once each: the tally counts as many ballots as residents who voted.
    assert sum(council.functions.tallyOf(load.proposal).call()) == len(voted)
    for what, _ in before:
        if what.startswith("service"):
            i = int(what.split()[1])
            record = load.service(i)
            assert timebank.functions.isRecorded(load.community, record.provider, 1).call()
    # Every service landed at most once: each provider's balance is what it served (10 + i)
    # less what it received (10 + i - 1) from its neighbour, where both landed.
    recorded = [timebank.functions.isRecorded(load.community, r.address, 1).call()
                for r in load.residents]  # fmt: skip
    for i, resident in enumerate(load.residents):
        earned = (10 + i) if recorded[i] else 0
        spent = (10 + (i - 1) % RESIDENTS) if recorded[(i - 1) % RESIDENTS] else 0
        assert timebank.functions.balanceOf(load.community, resident.address).call() == (
            earned - spent
        ), i

    audit = commons(restored.env, "audit", "--quiet", "--fresh", timeout=300)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "Traceback" not in audit.stderr


def test_messages_counted_after_the_dump_but_before_the_outbox_copy_land_once_after_restore(
    tmp_path: Path,
    systems: list[Running],
    accounts: list[LocalAccount],
    artifacts: dict[str, Artifact],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The narrowest window: the outbox copy says counted, in blocks the chain copy lacks."""
    (tmp_path / "source").mkdir()
    source = start(tmp_path / "source")
    systems.append(source)
    load = open_community(source, accounts, artifacts)
    workers = child_pids(source.api_pid())
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    acks = [load.client.ballot(r, load.proposal, 1) for r in load.residents[:6]]
    dump = backup_module.consistent_state

    def dump_then_let_them_land(w3: Any) -> tuple[bytes, int]:
        state = dump(w3)
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        load.client.wait_all(acks, timeout=60)
        return state

    monkeypatch.setattr(backup_module, "consistent_state", dump_then_let_them_land)
    manifest = backup_module.backup(source.settings, tmp_path / "narrow.backup")
    landed = load.client.wait_all(acks)
    assert min(r["block"] for r in landed) > manifest["head"]["number"]
    stop_by_pid(source)

    target = tmp_path / "restored"
    assert (
        commons(
            restore_env(source.env, target), "restore", str(tmp_path / "narrow.backup")
        ).returncode
        == 0
    )
    restored = start(target)
    systems.append(restored)
    w3 = make_web3(f"http://127.0.0.1:{restored.settings.anvil_port}")
    council = load_deployment(w3, restored.settings).council
    wait_for(
        "the six ballots counted again",
        lambda: council.functions.tallyOf(load.proposal).call()[1] == 6,
        60,
    )
    time.sleep(1)  # nothing lands twice: a second copy would be refused, not counted
    assert list(council.functions.tallyOf(load.proposal).call()) == [0, 6, 0]
    client = ApiClient(restored.api_url, w3, artifacts)
    assert {r["status"] for r in client.wait_all(acks)} == {"counted"}


@pytest.fixture(scope="module")
def stopped_backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A backup of a stopped system: `commons run` started, stopped, then `commons backup`."""
    home = tmp_path_factory.mktemp("stopped")
    system = start(home)
    stop_by_pid(system)
    data = system.settings.data_dir
    for name, body in KEY_FILES.items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(body)
    (data / "audit" / "checkpoint-31337-0123456789abcdef.json.gz").write_bytes(b"cache")
    backup_file = home / "stopped.backup"
    taken = commons(system.env, "backup", str(backup_file))
    assert taken.returncode == 0, taken.stderr
    assert "the chain is stopped: taking its newest snapshot" in taken.stdout
    return backup_file, system.env


def restore_env(env: dict[str, str], where: Path) -> dict[str, str]:
    return {
        **env,
        "COMMONS_DATA_DIR": str(where / "var"),
        "COMMONS_DEPLOYMENTS_DIR": str(where / "deployments"),
    }


def refused(env: dict[str, str], backup_file: Path, *extra: str) -> str:
    done = commons(env, "restore", str(backup_file), *extra)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: restore failed: ") and done.stderr.count("\n") == 1
    return done.stderr


def member_offset(backup_file: Path, name: str) -> int:
    with tarfile.open(backup_file) as tar:
        return tar.getmember(name).offset_data


def test_a_member_with_one_byte_flipped_is_refused_by_name_and_nothing_is_written(
    stopped_backup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    backup_file, env = stopped_backup
    damaged = tmp_path / "damaged.backup"
    raw = bytearray(backup_file.read_bytes())
    raw[member_offset(backup_file, "data/relay.sqlite") + 100] ^= 0x01
    damaged.write_bytes(bytes(raw))
    said = refused(restore_env(env, tmp_path), damaged)
    assert "member data/relay.sqlite is damaged (sha256 differs)" in said
    assert not (tmp_path / "var").exists() and not (tmp_path / "deployments").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".var.restore-")]


def test_a_truncated_backup_is_refused(
    stopped_backup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    backup_file, env = stopped_backup
    cut = tmp_path / "cut.backup"
    cut.write_bytes(backup_file.read_bytes()[: member_offset(backup_file, "data/relay.sqlite")])
    said = refused(restore_env(env, tmp_path), cut)
    assert "truncated" in said
    assert not (tmp_path / "var").exists()


def test_a_manifest_of_a_newer_format_is_refused(
    stopped_backup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    backup_file, env = stopped_backup
    newer = tmp_path / "newer.backup"
    with tarfile.open(backup_file) as src, tarfile.open(newer, "w") as dst:
        for info in src:
            data = src.extractfile(info)
            assert data is not None
            if info.name == "manifest.json":
                manifest = json.loads(data.read())
                manifest["format"] = 99
                body = json.dumps(manifest).encode()
                info.size = len(body)
                dst.addfile(info, io.BytesIO(body))
            else:
                dst.addfile(info, data)
    said = refused(restore_env(env, tmp_path), newer)
    assert "backup format 99; this version reads format 1 at most" in said


def test_restore_into_a_data_dir_that_is_not_empty_needs_force_and_keeps_the_old_one(
    stopped_backup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    backup_file, env = stopped_backup
    target_env = restore_env(env, tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "precious.txt").write_text("kept")
    said = refused(target_env, backup_file)
    assert "is not empty: restore into an empty data dir, or pass --force" in said
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["precious.txt"]

    forced = commons(target_env, "restore", str(backup_file), "--force")
    assert forced.returncode == 0, forced.stderr
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("var.before-restore-")]
    assert len(aside) == 1 and (aside[0] / "precious.txt").read_text() == "kept"
    assert (tmp_path / "var" / "relay.sqlite").exists()
    assert list((tmp_path / "var" / "chain" / "snapshots").glob("state-*.json"))
    assert (tmp_path / "deployments").is_dir()
    assert (tmp_path / "var" / "keys" / "resident.json").read_text() == KEY_FILES[
        "keys/resident.json"
    ]


def test_a_backup_holds_the_encrypted_keystores_and_no_plaintext_key(
    stopped_backup: tuple[Path, dict[str, str]],
) -> None:
    backup_file, _ = stopped_backup
    with tarfile.open(backup_file) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and sorted(names[1:]) == sorted(manifest["members"])
    assert "data/keys/resident.json" in names
    assert manifest["versions"]["anvil"].startswith("anvil")
    assert manifest["versions"]["commons-ledger"] and manifest["format"] == 1
    assert "data/audit/auditor-key.pem" not in names and "data/demo/keys.json" not in names
    assert {"chain/state.json.gz", "data/relay.sqlite", "deployments/31337.json"} <= set(names)
    assert not [n for n in names if n.endswith(("run.json", "node.json", ".log", "-wal"))]
    assert not [n for n in names if "checkpoint-" in n]
    assert (backup_file.stat().st_mode & 0o777) == 0o600


def test_a_keystore_kept_outside_the_data_dir_is_backed_up_and_restored_where_configured(
    tmp_path: Path,
) -> None:
    source = {**restore_env(dict(os.environ), tmp_path / "source")}
    source["COMMONS_KEYSTORE_DIR"] = str(tmp_path / "source-keys")
    (tmp_path / "source-keys").mkdir()
    (tmp_path / "source-keys" / "relayer.json").write_text(KEY_FILES["keys/resident.json"])
    snapshots = tmp_path / "source" / "var" / "chain" / "snapshots"
    snapshots.mkdir(parents=True)
    with ephemeral_node() as node:  # a chain to back up, without starting `commons run`
        state = node.dump_state()
    (snapshots / "state-0000000001-000000000000.json").write_bytes(state)
    backup_file = tmp_path / "keys.backup"
    taken = commons(source, "backup", str(backup_file))
    assert taken.returncode == 0, taken.stderr
    with tarfile.open(backup_file) as tar:
        assert "keystore/relayer.json" in tar.getnames()

    target = restore_env(dict(os.environ), tmp_path / "target")
    target["COMMONS_KEYSTORE_DIR"] = str(tmp_path / "target-keys")
    done = commons(target, "restore", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "target-keys" / "relayer.json").read_text() == KEY_FILES[
        "keys/resident.json"
    ]
    # A backup written into the data dir is not in the next one.
    inner = tmp_path / "source" / "var" / "inner.backup"
    for _ in range(2):
        assert commons(source, "backup", str(inner)).returncode == 0
    with tarfile.open(inner) as tar:
        assert "data/inner.backup" not in tar.getnames()
    # A machine without COMMONS_KEYSTORE_DIR keeps them in the data dir's keys/.
    inside = restore_env(dict(os.environ), tmp_path / "inside")
    done = commons(inside, "restore", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "inside" / "var" / "keys" / "relayer.json").exists()


def test_backup_and_restore_help_say_what_they_do() -> None:
    for command, words in (("backup", "while `commons run` is running"),
                           ("restore", "sha256 is checked")):  # fmt: skip
        done = subprocess.run([COMMONS, command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and words in " ".join(done.stdout.split()), done.stdout
