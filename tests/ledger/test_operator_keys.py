"""The relayer's key from the keystore, and the public development keys kept to the development
chain whichever way a key is configured."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from eth_account import Account
from pydantic import SecretStr

from ledger.config import DEV_MNEMONIC, Settings, configured_account
from ledger.errors import ConfigError
from ledger.keystore import Keystore, WrongPassphrase
from ledger.operator_keys import (
    KeystoreRelayer,
    api_environment,
    auditor_account,
    deployer_account,
    relayer_banner,
    relayer_for_run,
    with_keystore_relayer,
)
from ledger.passphrase import handed_over

PASSPHRASE = "relayer passphrase"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
Account.enable_unaudited_hdwallet_features()
DEV_KEY = bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/10").key)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path / "var", keystore_scrypt_n=1024, **overrides)  # type: ignore[arg-type]


def test_api_settings_hold_the_unlocked_keystore_key_and_no_longer_the_descriptor(
    tmp_path: Path,
) -> None:
    Keystore.of(_settings(tmp_path)).add("relayer", KEY, PASSPHRASE)
    with handed_over(PASSPHRASE) as fd:
        settings = _settings(tmp_path, relayer_keystore="relayer", relayer_passphrase_fd=os.dup(fd))
        unlocked = with_keystore_relayer(settings)
    assert unlocked.relayer_key is not None
    assert unlocked.relayer_key.get_secret_value() == "0x" + KEY.hex()
    assert unlocked.relayer_keystore is None and unlocked.relayer_passphrase_fd is None
    assert KEY.hex() not in repr(unlocked) and KEY.hex() not in str(unlocked)


def test_unlocking_logs_and_prints_nothing_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    Keystore.of(settings).add("relayer", KEY, PASSPHRASE)
    with caplog.at_level(logging.DEBUG), handed_over(PASSPHRASE) as fd:
        relayer = relayer_for_run(settings, "relayer", os.dup(fd))
        with api_environment(relayer):
            pass
    with caplog.at_level(logging.DEBUG), handed_over(PASSPHRASE) as fd:
        update = {"relayer_keystore": "relayer", "relayer_passphrase_fd": os.dup(fd)}
        with_keystore_relayer(settings.model_copy(update=update))
    captured = capsys.readouterr()
    seen = caplog.text + captured.out + captured.err
    assert PASSPHRASE not in seen and KEY.hex() not in seen.lower()


def test_settings_without_a_keystore_relayer_are_left_as_they_are(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert with_keystore_relayer(settings) is settings


def test_run_checks_the_passphrase_once_and_hands_it_to_each_api(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    entry = Keystore.of(settings).add("relayer", KEY, PASSPHRASE)
    with handed_over(PASSPHRASE) as fd:
        relayer = relayer_for_run(settings, "relayer", os.dup(fd))
    assert relayer == KeystoreRelayer("relayer", entry.address, PASSPHRASE)
    assert PASSPHRASE not in repr(relayer)
    for _ in range(2):  # every API started (again) gets a descriptor of its own
        with api_environment(relayer) as (env, fds):
            assert env is not None and env["COMMONS_RELAYER_KEYSTORE"] == "relayer"
            assert PASSPHRASE not in "".join(env.values())
            assert fds == (int(env["COMMONS_RELAYER_PASSPHRASE_FD"]),)
            assert os.read(fds[0], 100) == PASSPHRASE.encode() + b"\n"
    with api_environment(None) as inherited:
        assert inherited == (None, ())


def test_run_with_a_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    Keystore.of(settings).add("relayer", KEY, PASSPHRASE)
    with handed_over("something else") as fd, pytest.raises(WrongPassphrase):
        relayer_for_run(settings, "relayer", os.dup(fd))


def test_run_without_a_keystore_relayer_has_none(tmp_path: Path) -> None:
    assert relayer_for_run(_settings(tmp_path), None, None) is None
    with pytest.raises(ConfigError, match="name one"):  # a descriptor for no key is a mistake
        relayer_for_run(_settings(tmp_path), None, 3)


def test_a_development_key_from_the_keystore_is_refused_off_the_development_chain(
    tmp_path: Path,
) -> None:
    attached = _settings(tmp_path, rpc_url="http://127.0.0.1:9", chain_id=10)
    Keystore.of(attached).add("dev", DEV_KEY, PASSPHRASE)
    with handed_over(PASSPHRASE) as fd, pytest.raises(ConfigError, match="public development"):
        relayer_for_run(attached, "dev", os.dup(fd))
    development = _settings(tmp_path)
    with handed_over(PASSPHRASE) as fd:
        assert relayer_for_run(development, "dev", os.dup(fd)) is not None


@pytest.mark.parametrize("chain_id", [1, 10, 11155111])
def test_a_configured_development_key_is_refused_on_any_other_chain(
    tmp_path: Path, chain_id: int
) -> None:
    settings = _settings(tmp_path, rpc_url="http://127.0.0.1:9", chain_id=chain_id)
    with pytest.raises(ConfigError, match=f"refused on chain {chain_id}"):
        configured_account(
            SecretStr("0x" + DEV_KEY.hex()), settings, dev_index=10, variable="COMMONS_RELAYER_KEY"
        )
    own = configured_account(
        SecretStr("0x" + KEY.hex()), settings, dev_index=10, variable="COMMONS_RELAYER_KEY"
    )
    assert bytes(own.key) == KEY


def test_a_configured_development_key_still_signs_on_the_development_chain(
    tmp_path: Path,
) -> None:
    attached_dev = _settings(tmp_path, rpc_url="http://127.0.0.1:9", chain_id=31337)
    account = configured_account(
        SecretStr("0x" + DEV_KEY.hex()), attached_dev, dev_index=10, variable="X"
    )
    assert bytes(account.key) == DEV_KEY


def test_run_says_development_only_when_the_relayer_key_is_public(tmp_path: Path) -> None:
    assert "DEVELOPMENT ONLY" in relayer_banner(_settings(tmp_path), None)
    mine = KeystoreRelayer("relayer", "0xAbC", PASSPHRASE)
    assert relayer_banner(_settings(tmp_path), mine) == (
        "relayer:   0xAbC (key 'relayer' from the keystore)"
    )
    configured = _settings(tmp_path, relayer_key=SecretStr("0x" + KEY.hex()))
    banner = relayer_banner(configured, None)
    assert "DEVELOPMENT ONLY" not in banner and KEY.hex() not in banner


def test_deployer_comes_from_the_keystore_when_named(tmp_path: Path) -> None:
    Keystore.of(_settings(tmp_path)).add("admin", KEY, PASSPHRASE)
    with handed_over(PASSPHRASE) as fd:
        named = _settings(tmp_path, deployer_keystore="admin", deployer_passphrase_fd=os.dup(fd))
        assert bytes(deployer_account(named).key) == KEY
    development = deployer_account(_settings(tmp_path))
    assert development.address == Account.from_mnemonic(DEV_MNEMONIC).address  # m/.../0


def test_deployer_named_twice_is_refused(tmp_path: Path) -> None:
    both = _settings(tmp_path, deployer_keystore="admin", deployer_key=SecretStr("0x" + KEY.hex()))
    with pytest.raises(ConfigError, match="not both"):
        deployer_account(both)


def test_a_development_deployer_from_the_keystore_is_refused_off_the_development_chain(
    tmp_path: Path,
) -> None:
    attached = _settings(tmp_path, rpc_url="http://127.0.0.1:9", chain_id=1)
    Keystore.of(attached).add("dev", DEV_KEY, PASSPHRASE)
    with handed_over(PASSPHRASE) as fd:
        named = attached.model_copy(
            update={"deployer_keystore": "dev", "deployer_passphrase_fd": os.dup(fd)}
        )
        with pytest.raises(ConfigError, match="the deployer key 'dev' is one of the public"):
            deployer_account(named)


def test_auditor_account_comes_from_the_keystore_when_named(tmp_path: Path) -> None:
    Keystore.of(_settings(tmp_path)).add("auditor", KEY, PASSPHRASE)
    with handed_over(PASSPHRASE) as fd:
        named = _settings(
            tmp_path, auditor_account_keystore="auditor", auditor_account_passphrase_fd=os.dup(fd)
        )
        assert bytes(auditor_account(named, dev_index=9).key) == KEY
    development = auditor_account(_settings(tmp_path), dev_index=9)
    assert development.address == (
        Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/9").address
    )
    both = named.model_copy(update={"auditor_account_key": SecretStr("0x" + KEY.hex())})
    with pytest.raises(ConfigError, match="COMMONS_AUDITOR_ACCOUNT_KEYSTORE, not both"):
        auditor_account(both, dev_index=9)
