"""One file holding everything a community's node keeps, and the way back from it.

The file is a tar: `manifest.json` first (format, versions, chain id, the head block's number
and hash, and the sha256 of every other member), then `chain/state.json.gz` (the embedded
chain: anvil's state dump, blocks, transactions and receipts included), `data/...` (the data
dir: SQLite databases copied through SQLite's online backup API, everything else as it is,
keystores included — they are encrypted, and stay so) and `deployments/<chain-id>.json`.
What belongs to one run of the processes is left out: run.json, chain/node.json, the relay's
lock, logs, the audit's resume checkpoints, and the rotating snapshots (the chain member
replaces them); so are the private keys the data dir holds in plaintext (the auditor's report
key, the demo residents' keys).

Consistency while `commons run` is running, in the order the copies are taken:

1. The chain is dumped first, at a block B, consistently (`ledger.node.consistent_state`:
   the accounts are the state after exactly the dumped blocks).
2. The relay's outbox and the other databases are copied after, each through the online
   backup API: a copy is one committed state of that database, taken while the API and the
   worker keep writing.

So every message acknowledged before the backup began is in the outbox copy (the API
acknowledges only what the outbox committed). If B holds it, it is settled there. If it
landed after B, the copy records it as sent or counted in a block the restored chain lacks:
the relay's start-up check sees that batch gone, as after a reorg or a rewind to an older
snapshot, puts it back to 'sent', and broadcasts the same signed transaction again (or queues
its messages again); the contracts' nonces and the relay's idempotent receipts make it land
once. A message acknowledged while the backup ran is in the copy or not: the backup promises
only what was acknowledged before it started. The index copy may hold blocks above B; the
index rolls itself back to the chain it finds, as after any rewind.

Stopped, nothing is started: the chain member is the newest snapshot that validates, and the
databases are copied from their files.

Restore writes nothing in place until every member is read and its sha256 checked: it unpacks
into a staging directory beside the data dir, then renames it into place, so a failure leaves
the data dir as it was.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import rlp
from eth_utils.crypto import keccak

from ledger.audit.jobs import default_key_path
from ledger.config import Settings
from ledger.deploy import deployment_path
from ledger.errors import LedgerError
from ledger.files import atomic_write
from ledger.keystore import Keystore
from ledger.node import ManagedNode, consistent_state, make_web3, running_info

FORMAT = 1
MANIFEST = "manifest.json"
CHAIN_MEMBER = "chain/state.json.gz"
# The keystore directory's files when COMMONS_KEYSTORE_DIR puts it outside the data dir.
KEYSTORE_PREFIX = "keystore/"
SQLITE_SUFFIXES = (".sqlite", ".db")
# Belong to one run of the processes, or are rebuilt by it: never restored.
SKIPPED_NAMES = {"run.json", "node.json", "relay.lock", "load-state.json"}
SKIPPED_SUFFIXES = (".log", ".lock", ".torn", ".tmp", "-wal", "-shm", "-journal")
SKIPPED_DIRS = {Path("chain") / "snapshots"}
# The audit's resume checkpoints: a cache of a chain the restored one may have left behind.
SKIPPED_PREFIXES = ("checkpoint-",)
# Header fields anvil's dump holds as quantities; the others are byte strings. The dump lists
# a header's fields in the order the block hash encodes them.
_QUANTITIES = {
    "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
    "blobGasUsed", "excessBlobGas",
}  # fmt: skip

Progress = Callable[[str], None]


class BackupError(LedgerError):
    """A backup could not be written, or a backup file cannot be restored."""


@dataclass(frozen=True)
class Head:
    number: int
    hash: str


@dataclass(frozen=True)
class Restored:
    chain_id: int
    head: Head | None
    members: int
    replaced: Path | None


def _quiet(_: str) -> None:
    pass


def head_of(state: bytes) -> Head:
    """The newest block of an anvil state dump, its hash computed from its header."""
    blocks = json.loads(state).get("blocks") or []
    if not blocks:
        raise BackupError("the chain state holds no blocks")
    header = max(blocks, key=lambda b: int(b["header"]["number"], 16))["header"]
    fields = [int(v, 16) if k in _QUANTITIES else bytes.fromhex(v[2:]) for k, v in header.items()]
    return Head(int(header["number"], 16), "0x" + keccak(rlp.encode(fields)).hex())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plaintext_keys(settings: Settings) -> set[Path]:
    """Private keys the data dir holds unencrypted: the auditor's report-signing key and the
    demo residents' keys. A backup travels further than the machine: they stay behind."""
    return {
        default_key_path(settings).relative_to(settings.data_dir),
        Path("demo") / "keys.json",
    }


def _skipped(relative: Path, plaintext_keys: set[Path]) -> bool:
    if relative in plaintext_keys:
        return True
    name = relative.name
    if (
        name in SKIPPED_NAMES
        or name.endswith(SKIPPED_SUFFIXES)
        or name.startswith(SKIPPED_PREFIXES)
    ):
        return True
    return any(relative.is_relative_to(d) for d in SKIPPED_DIRS)


def _copy_sqlite(source: Path) -> bytes:
    """A committed state of the database, read through SQLite's online backup API (safe while
    others write to it, WAL included)."""
    with tempfile.TemporaryDirectory(prefix="commons-backup-") as tmp:
        target = Path(tmp) / source.name
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        return target.read_bytes()


def _chain_state(settings: Settings, say: Progress) -> bytes | None:
    if not settings.embedded:
        say("attached to an external network: its chain is the network's, not in the backup")
        return None
    info = running_info(settings)
    if info is not None:
        say(f"dumping the running chain at {info.url} ...")
        state, _ = consistent_state(make_web3(info.url))
        return state
    newest, _ = ManagedNode(settings).snapshots.newest_valid()
    if newest is None:
        raise BackupError(
            f"no chain to back up: no running node, no snapshot in {settings.data_dir}"
        )
    say(f"the chain is stopped: taking its newest snapshot {newest.name}")
    return newest.read_bytes()


def _data_members(settings: Settings, out_path: Path, say: Progress) -> Iterator[tuple[str, bytes]]:
    """The data dir's files, databases last so that they are copied after the chain dump (an
    earlier backup file written into the data dir is not one of them)."""
    root, keys = settings.data_dir, _plaintext_keys(settings)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not _skipped(p.relative_to(root), keys) and p.resolve() != out_path
    )
    databases = [p for p in files if p.name.endswith(SQLITE_SUFFIXES)]
    for path in files:
        if path not in databases:
            yield f"data/{path.relative_to(root).as_posix()}", path.read_bytes()
    for path in databases:
        say(f"copying {path.relative_to(root)} ...")
        yield f"data/{path.relative_to(root).as_posix()}", _copy_sqlite(path)


def _outside_keystore(settings: Settings) -> Path | None:
    """The keystore directory when it is not inside the data dir (COMMONS_KEYSTORE_DIR)."""
    directory = Keystore.of(settings).directory.resolve()
    return None if directory.is_relative_to(settings.data_dir.resolve()) else directory


def _keystore_members(settings: Settings) -> Iterator[tuple[str, bytes]]:
    directory = _outside_keystore(settings)
    if directory is None or not directory.is_dir():
        return
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        yield f"{KEYSTORE_PREFIX}{path.relative_to(directory).as_posix()}", path.read_bytes()


def _versions(settings: Settings) -> dict[str, str]:
    """What wrote the file; anvil's version because the chain member is its state format."""
    versions = {"format": str(FORMAT)}
    with contextlib.suppress(metadata.PackageNotFoundError):
        versions["commons-ledger"] = metadata.version("commons-ledger")
    if settings.embedded:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            said = subprocess.run(
                [settings.anvil_binary, "--version"], capture_output=True, text=True, timeout=10
            )
            versions["anvil"] = said.stdout.strip().splitlines()[0] if said.stdout else "?"
    return versions


def backup(settings: Settings, out_path: Path, say: Progress = _quiet) -> dict[str, Any]:
    """Write the node's whole state to `out_path` (atomically); returns the manifest."""
    if not settings.data_dir.is_dir():
        raise BackupError(f"no data dir at {settings.data_dir}: nothing to back up")
    members: dict[str, bytes] = {}
    state = _chain_state(settings, say)  # first: see the module's docstring
    head = None
    if state is not None:
        head = head_of(state)
        say(f"chain dumped at block {head.number} ({len(state) // 1024} KiB)")
        members[CHAIN_MEMBER] = gzip.compress(state, compresslevel=6, mtime=0)
    for name, data in _data_members(settings, out_path.resolve(), say):
        members[name] = data
    for name, data in _keystore_members(settings):
        members[name] = data
    deployment = deployment_path(settings, settings.chain_id)
    if deployment.exists():
        members[f"deployments/{deployment.name}"] = deployment.read_bytes()
    manifest = {
        "format": FORMAT,
        "versions": _versions(settings),
        "created_at": int(time.time()),
        "chain_id": settings.chain_id,
        "head": None if head is None else {"number": head.number, "hash": head.hash},
        "members": {name: _sha256(data) for name, data in members.items()},
    }
    _write_archive(out_path, manifest, members)
    say(f"wrote {out_path} ({len(members)} members, {out_path.stat().st_size // 1024} KiB)")
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o600
    tar.addfile(info, io.BytesIO(data))


def _write_archive(out_path: Path, manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    # The members are in memory already; the archive is written whole or not at all, readable
    # by its owner only (atomic_write's temp file is made 0600 by mkstemp): the backup holds
    # the encrypted keystores and personal data (docs/security.md).
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        mtime = int(manifest["created_at"])
        _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode(), mtime)
        for name, data in members.items():
            _add(tar, name, data, mtime)
    atomic_write(out_path.resolve(), buffer.getvalue())


def read_backup(in_path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and members of a backup file, every member's sha256 checked."""
    try:
        with tarfile.open(in_path, mode="r:") as tar:
            files: dict[str, bytes] = {}
            for info in tar:
                if not info.isfile():
                    raise BackupError(f"{in_path}: member {info.name} is not a plain file")
                extracted = tar.extractfile(info)
                assert extracted is not None
                files[info.name] = extracted.read()
    except FileNotFoundError as exc:
        raise BackupError(f"no backup file at {in_path}") from exc
    except IsADirectoryError as exc:
        raise BackupError(f"{in_path} is a directory, not a backup file") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{in_path} is not a whole backup file (truncated?): {exc}") from exc
    manifest = _manifest(in_path, files.pop(MANIFEST, None))
    expected: dict[str, str] = manifest["members"]
    for name in expected.keys() - files.keys():
        raise BackupError(f"{in_path} lacks member {name} (truncated?)")
    for name in files.keys() - expected.keys():
        raise BackupError(f"{in_path} holds member {name} its manifest does not list")
    for name, data in files.items():
        if _sha256(data) != expected[name]:
            raise BackupError(f"{in_path}: member {name} is damaged (sha256 differs)")
    return manifest, files


def _manifest(in_path: Path, raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise BackupError(f"{in_path} has no {MANIFEST}: not a commons backup")
    try:
        manifest = json.loads(raw)
        fmt = int(manifest["format"])
        if not isinstance(manifest["members"], dict):
            raise TypeError("members is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{in_path}: unreadable {MANIFEST}: {exc}") from exc
    if fmt > FORMAT:
        raise BackupError(
            f"{in_path} has backup format {fmt}; this version reads format {FORMAT} at most: "
            "restore it with a newer commons"
        )
    return dict(manifest)


def _occupied(settings: Settings, chain_id: int) -> list[Path]:
    found = []
    if settings.data_dir.exists() and any(settings.data_dir.iterdir()):
        found.append(settings.data_dir)
    if deployment_path(settings, chain_id).exists():
        found.append(deployment_path(settings, chain_id))
    keystore = _outside_keystore(settings)
    if keystore is not None and keystore.is_dir() and any(keystore.iterdir()):
        found.append(keystore)
    return found


def restore(
    settings: Settings, in_path: Path, *, force: bool = False, say: Progress = _quiet
) -> Restored:
    """Bring the data dir (and the deployment record) back to the state in `in_path`.

    Refuses a data dir that holds anything unless `force` (then the old one is moved aside, to
    `<data_dir>.before-restore-<time>`, not deleted), and always refuses while a node runs on it.
    """
    say(f"reading {in_path} ...")
    manifest, files = read_backup(in_path)
    chain_id = int(manifest["chain_id"])
    if chain_id != settings.chain_id:
        raise BackupError(
            f"{in_path} is of chain {chain_id}; the configured chain id is {settings.chain_id}"
        )
    head = _check_chain(manifest, files)
    if settings.embedded and running_info(settings) is not None:
        raise BackupError(f"a node is running on {settings.data_dir}: stop it first")
    occupied = _occupied(settings, chain_id)
    if occupied and not force:
        raise BackupError(
            f"{occupied[0]} is not empty: restore into an empty data dir, or pass --force "
            "(the old data dir is moved aside, not deleted)"
        )
    data_dir = settings.data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=data_dir.parent, prefix=f".{data_dir.name}.restore-"))
    try:
        _unpack(settings, staging, files, head, say)
        replaced = _swap_in(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    deployment = files.get(f"deployments/{chain_id}.json")
    if deployment is not None:
        atomic_write(deployment_path(settings, chain_id), deployment)
    _restore_outside_keystore(settings, files)
    say(f"restored {len(files)} members into {data_dir}")
    return Restored(chain_id, head, len(files), replaced)


def _keystore_target(settings: Settings, staging: Path, name: str) -> Path:
    """Where a keystore member goes when this machine keeps its keystore in the data dir."""
    directory = Keystore.of(settings).directory.resolve()
    inside = directory.relative_to(settings.data_dir.resolve())
    return staging / inside / name.removeprefix(KEYSTORE_PREFIX)


def _restore_outside_keystore(settings: Settings, files: dict[str, bytes]) -> None:
    directory = _outside_keystore(settings)
    if directory is None:
        return
    for name, data in files.items():
        if name.startswith(KEYSTORE_PREFIX):
            target = directory / name.removeprefix(KEYSTORE_PREFIX)
            if not target.resolve().is_relative_to(directory):
                raise BackupError(f"member {name} points outside the keystore directory")
            atomic_write(target, data)
            os.chmod(target, 0o600)


def _check_chain(manifest: dict[str, Any], files: dict[str, bytes]) -> Head | None:
    if manifest.get("head") is None:
        return None
    try:
        state = gzip.decompress(files[CHAIN_MEMBER])
        head = head_of(state)
    except (KeyError, OSError, EOFError, ValueError) as exc:
        raise BackupError(f"member {CHAIN_MEMBER} is not a chain state: {exc}") from exc
    expected = Head(int(manifest["head"]["number"]), str(manifest["head"]["hash"]))
    if head != expected:
        raise BackupError(
            f"member {CHAIN_MEMBER} ends at block {head.number} ({head.hash}), "
            f"the manifest says {expected.number} ({expected.hash})"
        )
    files[CHAIN_MEMBER] = state
    return head


def _unpack(
    settings: Settings, staging: Path, files: dict[str, bytes], head: Head | None, say: Progress
) -> None:
    for name, data in files.items():
        if name == CHAIN_MEMBER:
            assert head is not None
            # The node starts from the newest snapshot: this is the first and only one.
            target = staging / "chain" / "snapshots" / f"state-{1:010d}-{head.number:012d}.json"
        elif name.startswith("data/"):
            target = staging / name.removeprefix("data/")
        elif name.startswith(KEYSTORE_PREFIX) and _outside_keystore(settings) is None:
            target = _keystore_target(settings, staging, name)
        else:
            continue
        if not target.resolve().is_relative_to(staging.resolve()):
            raise BackupError(f"member {name} points outside the data dir")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(target, 0o600)
    say(f"unpacked {len(files)} members; chain at block {head.number if head else '-'}")


def _swap_in(staging: Path, data_dir: Path) -> Path | None:
    """Rename the staged data dir into place; an old one is moved aside first."""
    replaced = None
    if data_dir.exists():
        if any(data_dir.iterdir()):
            replaced = data_dir.with_name(f"{data_dir.name}.before-restore-{int(time.time())}")
            data_dir.rename(replaced)
        else:
            data_dir.rmdir()
    try:
        staging.rename(data_dir)
    except BaseException:
        if replaced is not None:
            replaced.rename(data_dir)
        raise
    dir_fd = os.open(data_dir.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return replaced
