"""`commons backup FILE` and `commons restore FILE` (ledger/backup.py does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from commons.errors import fail
from ledger.backup import backup, restore
from ledger.config import Settings
from ledger.errors import LedgerError


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")


def backup_command(
    file: Annotated[Path, typer.Argument(help="the backup file to write (replaced atomically)")],
) -> None:
    """Write everything this node holds to FILE: the chain (blocks, receipts, state), the
    relay's outbox, the index, the off-chain texts and records, the encrypted keystores and the
    deployment record. Works while `commons run` is running (the copies are taken online, the
    chain first) and when it is stopped (the newest snapshot is taken; nothing is started).
    FILE holds personal data and the keystores: keep it as safe as the data dir."""
    settings = _settings()
    try:
        manifest = backup(settings, file, say=typer.echo)
    except (LedgerError, OSError) as exc:
        fail(f"backup failed: {exc}")
    head = manifest["head"]
    at = f"block {head['number']} ({head['hash']})" if head else "no chain (attached network)"
    typer.echo(f"backup of chain {manifest['chain_id']} at {at} written to {file}")


def restore_command(
    file: Annotated[Path, typer.Argument(help="a file written by `commons backup`")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="restore over a data dir that is not empty (it is moved aside)"
        ),
    ] = False,
) -> None:
    """Bring an empty data dir (and the deployment record) back to the state in FILE. Every
    member's sha256 is checked before anything is written; a damaged or truncated file, a file
    of a newer format or of another chain id, a data dir that is not empty (without --force) or
    a node running on it are refused, and the data dir is left as it was. Then `commons run`
    starts from the restored chain, and the relay sends again what that chain lacks."""
    settings = _settings()
    try:
        done = restore(settings, file, force=force, say=typer.echo)
    except (LedgerError, OSError) as exc:
        fail(f"restore failed: {exc}")
    if done.replaced is not None:
        typer.echo(f"the previous data dir was moved to {done.replaced}")
    at = f"block {done.head.number} ({done.head.hash})" if done.head else "no chain"
    typer.echo(f"restored chain {done.chain_id} at {at}; start it with `commons run`")


def register_backup(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
