"""`commons secret` without a chain: each command offers the signing options and its own, and
a trustee's file keeps its secrets sealed (0600, the passphrase needed, bound to its vote)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from commons.secret_cli import secret_app
from ledger.secret.trustee_file import TrusteeFileError, TrusteeState, load, save, seal, unseal

COMMANDS = ("open", "register", "deal", "check-deals", "answer", "close-keys", "decrypt",
            "finalize", "challenge")  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_step_offers_a_dry_run_relay_or_direct_and_a_key(command: str) -> None:
    result = CliRunner().invoke(secret_app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--dry-run", "--via", "--key", "--passphrase-fd", "--api", "--rpc"):
        assert option in result.output


def _state() -> TrusteeState:
    return TrusteeState(31337, "0x" + "ab" * 20, 4, 2, 12345, [7, 8], {1: 99, 2: 100})


def test_a_trustee_file_is_written_0600_and_opens_only_with_its_passphrase(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t2.trustee"
    save(path, _state(), "right passphrase", new=True)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "12345" not in path.read_text() and hex(12345) not in path.read_text()
    assert load(path, "right passphrase") == _state()
    with pytest.raises(TrusteeFileError, match="wrong passphrase"):
        load(path, "wrong")
    with pytest.raises(TrusteeFileError, match="exists"):
        save(path, _state(), "right passphrase", new=True)


def test_a_trustee_file_moved_to_another_vote_does_not_open(tmp_path: Path) -> None:
    sealed = seal(_state(), "p", n=2**14)
    moved = sealed.replace(b'"place": "31337:', b'"place": "1:')
    with pytest.raises(TrusteeFileError):
        unseal(moved, "p", "moved")
