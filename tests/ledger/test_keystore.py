"""Key files: standard Secret Storage v3, written whole and private, opened only with the right
passphrase, and refused when they are not what they claim to be."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.keystore import (
    STANDARD_SCRYPT_N,
    BadKeyName,
    KeyNameTaken,
    Keystore,
    KeystoreError,
    MalformedKeyFile,
    MalformedPrivateKey,
    UnknownKey,
    WrongPassphrase,
    parse_private_key,
)

TEST_N = 1024  # the standard 262,144 costs ~1 s a file; tests need the format, not the cost
PASSPHRASE = "correct horse battery staple"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


@pytest.fixture
def store(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", scrypt_n=TEST_N)


def test_new_key_file_is_private_standard_and_opens_with_eth_account(store: Keystore) -> None:
    entry = store.create("admin", PASSPHRASE)
    assert entry.path == store.directory / "admin.json"
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    document = json.loads(entry.path.read_text())
    assert document["version"] == 3 and document["crypto"]["kdf"] == "scrypt"
    assert document["crypto"]["kdfparams"]["n"] == TEST_N
    key = Account.decrypt(document, PASSPHRASE)
    assert Account.from_key(key).address == entry.address
    assert [p.name for p in store.directory.iterdir()] == ["admin.json"]  # no temporary left


def test_default_cost_is_the_standard_scrypt_n() -> None:
    assert Settings().keystore_scrypt_n == STANDARD_SCRYPT_N == 262_144
    assert Keystore(Path("unused")).scrypt_n == STANDARD_SCRYPT_N


def test_scrypt_cost_that_is_not_a_power_of_two_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="power of two"):
        Keystore(tmp_path, scrypt_n=1000)


def test_keystore_lives_under_the_data_dir_unless_set(tmp_path: Path) -> None:
    assert Keystore.of(Settings(data_dir=tmp_path)).directory == tmp_path / "keys"
    elsewhere = Settings(data_dir=tmp_path, keystore_dir=tmp_path / "vault")
    assert Keystore.of(elsewhere).directory == tmp_path / "vault"


def test_unlock_gives_back_the_imported_key(store: Keystore) -> None:
    entry = store.add("relayer", KEY, PASSPHRASE)
    assert bytes(store.unlock("relayer", PASSPHRASE).key) == KEY
    assert entry.address == Account.from_key(KEY).address


def test_unlock_with_a_wrong_passphrase_is_refused(store: Keystore) -> None:
    store.add("relayer", KEY, PASSPHRASE)
    with pytest.raises(WrongPassphrase, match="wrong passphrase for key 'relayer'"):
        store.unlock("relayer", PASSPHRASE + "x")


def test_a_taken_name_is_refused_and_the_first_key_kept(store: Keystore) -> None:
    first = store.create("admin", PASSPHRASE)
    with pytest.raises(KeyNameTaken, match="'admin' already exists"):
        store.add("admin", KEY, PASSPHRASE)
    assert store.unlock("admin", PASSPHRASE).address == first.address


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "x" * 65, "spa ce"])
def test_names_that_are_not_plain_file_names_are_refused(store: Keystore, name: str) -> None:
    with pytest.raises(BadKeyName):
        store.add(name, KEY, PASSPHRASE)


def test_a_keystore_that_cannot_be_written_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = Keystore(tmp_path / "file" / "keys", scrypt_n=TEST_N)  # under a plain file
    with pytest.raises(KeystoreError, match="cannot write"):
        store.add("admin", KEY, PASSPHRASE)


def test_unknown_name_is_named(store: Keystore) -> None:
    with pytest.raises(UnknownKey, match="no key named 'ghost'"):
        store.entry("ghost")


def test_entries_list_names_and_addresses_sorted(store: Keystore) -> None:
    store.add("b-relayer", KEY, PASSPHRASE)
    store.create("a-admin", PASSPHRASE)
    entries = store.entries()
    assert [e.name for e in entries] == ["a-admin", "b-relayer"]
    assert entries[1].address == Account.from_key(KEY).address


def test_a_file_whose_address_is_not_its_key_is_refused_on_unlock(store: Keystore) -> None:
    entry = store.add("relayer", KEY, PASSPHRASE)
    document = json.loads(entry.path.read_text())
    document["address"] = "11" * 20
    entry.path.write_text(json.dumps(document))
    with pytest.raises(MalformedKeyFile, match="the address it records is not its key's"):
        store.unlock("relayer", PASSPHRASE)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"version": 4}', "not a version 3 keystore"),
        (b'{"version": 3}', "no crypto section"),
    ],
)
def test_malformed_files_are_refused_with_the_reason(
    store: Keystore, content: bytes, why: str
) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "bad.json").write_bytes(content)
    with pytest.raises(MalformedKeyFile, match=why):
        store.unlock("bad", PASSPHRASE)


def test_a_file_asking_for_an_unreasonable_scrypt_cost_is_refused_unopened(
    store: Keystore,
) -> None:
    entry = store.add("relayer", KEY, PASSPHRASE)
    document = json.loads(entry.path.read_text())
    document["crypto"]["kdfparams"]["n"] = 1 << 30  # minutes and gigabytes to open
    entry.path.write_text(json.dumps(document))
    with pytest.raises(MalformedKeyFile, match="unreasonable scrypt parameters"):
        store.unlock("relayer", PASSPHRASE)


@pytest.mark.parametrize("text", ["", "0x1234", "zz" * 32, "00" * 32, "ff" * 32])
def test_what_is_not_a_private_key_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(MalformedPrivateKey) as caught:
        parse_private_key(text)
    assert str(caught.value) == str(MalformedPrivateKey())  # the same words, whatever came in


def test_private_key_text_may_carry_0x_and_a_newline() -> None:
    assert parse_private_key("0x" + KEY.hex() + "\n") == KEY
    assert parse_private_key(KEY.hex().upper()) == KEY
