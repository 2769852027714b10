"""`commons admin --help` and each command's: every act says who may do it and offers the
options every act shares (a dry run, relay or direct, the signing key)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from commons.admin_cli import admin_app

ACTS = (
    "create-community", "transfer-admin", "accept-admin", "cancel-admin-transfer", "grant",
    "revoke", "set-threshold", "set-currency", "set-limits", "register-auditor-key",
    "revoke-auditor-key",
)  # fmt: skip


def test_admin_help_lists_every_act_show_and_history() -> None:
    result = CliRunner().invoke(admin_app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for act in (*ACTS, "show", "history"):
        assert act in result.output


@pytest.mark.parametrize("act", ACTS)
def test_every_act_offers_a_dry_run_relay_or_direct_and_a_key(act: str) -> None:
    result = CliRunner().invoke(admin_app, [act, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--dry-run", "--via", "--key", "--passphrase-fd", "--api", "--rpc"):
        assert option in result.output, (act, option)
