"""`commons key` as an admin uses it: real subprocesses, key files that eth-account, ethers.js
and brownie read, one-line errors, and nothing secret ever on the screen."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from ledger.config import DEV_MNEMONIC

COMMONS = str(Path(sys.executable).parent / "commons")
ROOT = Path(__file__).resolve().parents[2]
ETHERS_KEYSTORE = ROOT / "tests" / "js" / "keystore.mjs"
TEST_N = 1024
PASSPHRASE = "a long and private passphrase"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ADDRESS = Account.from_key(KEY).address

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def commons(
    env: dict[str, str], *args: str, passphrase: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`commons *args`, the passphrase (if any) on a pipe given as --passphrase-fd."""
    fds: tuple[int, ...] = ()
    if passphrase is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, passphrase.encode() + b"\n")
        os.close(write_end)
        args, fds = (*args, "--passphrase-fd", str(read_end)), (read_end,)
    try:
        return subprocess.run(
            [COMMONS, *args],
            env=env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            pass_fds=fds,
        )
    finally:
        for fd in fds:
            os.close(fd)


def assert_no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    shown = result.stdout + result.stderr
    for secret in secrets:
        assert secret.lower() not in shown.lower()


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]


def at_terminal(
    env: dict[str, str], args: list[str], prompts: list[tuple[str, str]], timeout: float = 60
) -> tuple[int, str]:
    """`commons *args` on a terminal of its own: each prompt answered as it appears. Its exit
    status and everything the terminal showed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.execve(COMMONS, [COMMONS, *args], env)
    shown, waiting = b"", list(prompts)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([terminal], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if waiting and shown.endswith(waiting[0][0].encode()):
                os.write(terminal, waiting.pop(0)[1].encode() + b"\n")
    finally:
        os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def ethers(payload: dict[str, object]) -> str:
    out = subprocess.run(
        ["node", str(ETHERS_KEYSTORE)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,  # resolves `ethers` from the project's node_modules
        timeout=120,
    )
    return out.stdout


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def env(tmp_path: Path, keys: Path) -> Iterator[dict[str, str]]:
    yield {
        **{k: v for k, v in os.environ.items() if not k.startswith("COMMONS_")},
        "COMMONS_DATA_DIR": str(tmp_path / "var"),
        "COMMONS_KEYSTORE_DIR": str(keys),
        "COMMONS_KEYSTORE_SCRYPT_N": str(TEST_N),
    }


@pytest.mark.parametrize("command", ["new", "import", "list", "address"])
def test_every_key_command_has_help(env: dict[str, str], command: str) -> None:
    result = commons(env, "key", command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert f"Usage: commons key {command}" in text
    if command in {"new", "import"}:
        assert "--passphrase-fd" in text


def test_key_help_names_the_format_and_where_keys_live(env: dict[str, str]) -> None:
    text = " ".join(commons(env, "key", "--help").stdout.split())
    assert "Secret Storage v3" in text and "COMMONS_KEYSTORE_DIR" in text


def _new(env: dict[str, str], name: str) -> tuple[str, Path]:
    result = commons(env, "key", "new", name, passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert_no_secret(result, PASSPHRASE)
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"new key '{name}': 0x")
    return first.rsplit(" ", 1)[1], Path(result.stdout.splitlines()[1].removeprefix("file: "))


@needs_node
def test_new_key_opens_with_eth_account_and_ethers_to_the_address_it_printed(
    env: dict[str, str], keys: Path
) -> None:
    address, path = _new(env, "admin")
    assert path == keys / "admin.json"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    document = path.read_text()
    key = bytes(Account.decrypt(document, PASSPHRASE))
    assert Account.from_key(key).address == address
    opened = json.loads(ethers({"op": "decrypt", "json": document, "password": PASSPHRASE}))
    assert opened["address"] == address
    assert opened["privateKey"] == "0x" + key.hex()


def test_new_key_asks_twice_at_the_terminal_without_echo(env: dict[str, str], keys: Path) -> None:
    asked = [("passphrase for the new key 'admin': ", PASSPHRASE), ("again: ", PASSPHRASE)]
    code, shown = at_terminal(env, ["key", "new", "admin"], asked)
    assert code == 0, shown
    assert PASSPHRASE not in shown  # never echoed
    [address] = re.findall(r"new key 'admin': (0x[0-9a-fA-F]{40})", shown)
    document = (keys / "admin.json").read_text()
    assert Account.from_key(Account.decrypt(document, PASSPHRASE)).address == address


def test_two_different_passphrases_at_the_terminal_write_nothing(
    env: dict[str, str], keys: Path
) -> None:
    asked = [("passphrase for the new key 'admin': ", PASSPHRASE), ("again: ", PASSPHRASE + "!")]
    code, shown = at_terminal(env, ["key", "new", "admin"], asked)
    assert code == 1
    assert "error: the two passphrases differ; nothing was written" in shown
    assert not (keys / "admin.json").exists()


def test_new_key_has_the_standard_scrypt_cost_unless_told(env: dict[str, str], keys: Path) -> None:
    standard = {k: v for k, v in env.items() if k != "COMMONS_KEYSTORE_SCRYPT_N"}
    result = commons(standard, "key", "new", "admin", passphrase=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert "for tests only" not in result.stderr
    document = json.loads((keys / "admin.json").read_text())
    assert document["crypto"]["kdfparams"]["n"] == 262_144
    assert "for tests only" in commons(env, "key", "new", "cheap", passphrase=PASSPHRASE).stderr


@needs_node
def test_key_written_by_ethers_imports_from_file_with_its_passphrase(
    env: dict[str, str], keys: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "ethers.json"
    theirs.write_text(
        ethers({"op": "encrypt", "privateKey": "0x" + KEY.hex(), "password": PASSPHRASE, "n": 1024})
    )
    assert "Crypto" in json.loads(theirs.read_text())  # ethers' spelling, not eth-account's
    result = commons(
        env, "key", "import", "relayer", "--from-file", str(theirs), passphrase=PASSPHRASE
    )
    assert result.returncode == 0, result.stderr
    assert_no_secret(result, PASSPHRASE, KEY.hex())
    assert f"imported key 'relayer': {ADDRESS}" in result.stdout
    assert bytes(Account.decrypt((keys / "relayer.json").read_text(), PASSPHRASE)) == KEY


BROWNIE_ROUND_TRIP = """
import json, sys
from brownie import accounts
job = json.load(sys.stdin)
ours = accounts.load(job["ours"], password=job["password"])
saved = accounts.add(job["key"]).save("from-brownie", password=job["password"])
print(json.dumps({"ours": ours.address, "saved": saved}))
"""


def test_brownie_loads_our_key_file_and_its_own_imports(
    env: dict[str, str], tmp_path: Path
) -> None:
    address, path = _new(env, "admin")
    home = tmp_path / "home"
    home.mkdir()
    job = {"ours": str(path), "password": PASSPHRASE, "key": "0x" + KEY.hex()}
    out = subprocess.run(
        [sys.executable, "-c", BROWNIE_ROUND_TRIP],
        input=json.dumps(job),
        env={**env, "HOME": str(home)},  # brownie writes its data folder under ~/.brownie
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ours"] == address
    assert Path(result["saved"]) == home / ".brownie" / "accounts" / "from-brownie.json"
    imported = commons(
        env, "key", "import", "deployer", "--from-file", result["saved"], passphrase=PASSPHRASE
    )
    assert imported.returncode == 0, imported.stderr
    assert f"imported key 'deployer': {ADDRESS}" in imported.stdout


def test_import_reads_a_private_key_from_stdin(env: dict[str, str], keys: Path) -> None:
    result = commons(
        env, "key", "import", "relayer", passphrase=PASSPHRASE, stdin="0x" + KEY.hex() + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert_no_secret(result, PASSPHRASE, KEY.hex())
    assert f"imported key 'relayer': {ADDRESS}" in result.stdout
    assert bytes(Account.decrypt((keys / "relayer.json").read_text(), PASSPHRASE)) == KEY


def test_list_and_address_show_names_and_addresses_only(env: dict[str, str]) -> None:
    assert "no keys in" in commons(env, "key", "list").stdout
    admin, _ = _new(env, "admin")
    commons(env, "key", "import", "relayer", passphrase=PASSPHRASE, stdin=KEY.hex())
    listed = commons(env, "key", "list")
    assert listed.returncode == 0
    assert listed.stdout.split() == ["admin", admin, "relayer", ADDRESS]
    as_json = json.loads(commons(env, "key", "list", "--json").stdout)
    assert as_json == [{"name": "admin", "address": admin}, {"name": "relayer", "address": ADDRESS}]
    shown = commons(env, "key", "address", "relayer")
    assert shown.returncode == 0 and shown.stdout == ADDRESS + "\n"
    assert_no_secret(listed, KEY.hex(), PASSPHRASE)


def test_name_taken_is_refused_before_any_passphrase_is_asked(env: dict[str, str]) -> None:
    _new(env, "admin")
    result = commons(env, "key", "new", "admin")  # no descriptor, no terminal: never asked
    assert_one_line_error(result, "a key named 'admin' already exists")


def test_import_from_file_with_a_wrong_passphrase_writes_nothing(
    env: dict[str, str], keys: Path
) -> None:
    _, path = _new(env, "admin")
    result = commons(env, "key", "import", "copy", "--from-file", str(path), passphrase="nope" * 3)
    assert_one_line_error(result, f"wrong passphrase for {path}")
    assert not (keys / "copy.json").exists()


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (("address", "ghost"), None, "no key named 'ghost'"),
        (("new", "../escape"), None, "bad key name '../escape'"),
        (("import", "k", "--from-file", "/nonexistent/key.json"), None, "No such file"),
        (("import", "k"), "not a key\n", "not a private key: expected 64 hex digits"),
        (("import", "k"), "00" * 32, "not a private key"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    env: dict[str, str], args: tuple[str, ...], stdin: str | None, fragment: str
) -> None:
    passphrase = None if args[0] == "address" else PASSPHRASE
    result = commons(env, "key", *args, stdin=stdin, passphrase=passphrase)
    assert_one_line_error(result, fragment)
    if stdin:
        assert stdin.strip() not in result.stderr  # what was offered as a key is not repeated


def test_malformed_key_file_is_named(env: dict[str, str], keys: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"version": 3, "crypto": {"kdf": "scrypt"}}')
    result = commons(env, "key", "import", "k", "--from-file", str(garbage), passphrase=PASSPHRASE)
    assert_one_line_error(result, "is not a usable key file: crypto section lacks 'ciphertext'")
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "broken.json").write_text("{")
    assert_one_line_error(commons(env, "key", "list"), "broken.json is not a usable key file")


def test_short_passphrase_and_no_terminal_are_refused(env: dict[str, str]) -> None:
    assert_one_line_error(
        commons(env, "key", "new", "admin", passphrase="short"), "at least 8 characters"
    )
    assert_one_line_error(commons(env, "key", "new", "admin"), "no terminal")


def test_development_key_can_be_kept_but_is_named_public_when_used(env: dict[str, str]) -> None:
    Account.enable_unaudited_hdwallet_features()
    dev = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    imported = commons(
        env, "key", "import", "dev", passphrase=PASSPHRASE, stdin=bytes(dev.key).hex()
    )
    assert imported.returncode == 0, imported.stderr
    # On any chain but the development chain id it is refused before anything starts.
    other_chain = {**env, "COMMONS_RPC_URL": "http://127.0.0.1:9", "COMMONS_CHAIN_ID": "10"}
    result = commons(other_chain, "run", "--relayer-key", "dev", passphrase=PASSPHRASE)
    assert_one_line_error(result, "public development keys")
    assert_no_secret(result, PASSPHRASE, bytes(dev.key).hex())
