"""A secret election end to end through the real API and the trustees' CLI: the committee
opens a 2-of-3 vote, the trustees generate its key with `commons secret`, residents cast
encrypted ballots through the API, an invalid ballot slipped onto the chain is challenged and
voided, two trustees decrypt (a third's wrong partial is refused), the tally is finalized and
`commons audit` passes naming nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner
from web3 import Web3

from commons.cli import app
from ledger.errors import ContractRuleBroken
from ledger.keystore import Keystore
from ledger.node import rpc
from ledger.protocol.generated import Roles
from ledger.secret.trustee_file import load
from tests.audit.conftest import audit_data_dir
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import SecretBallotContract, Trustee
from tests.contracts.conftest import signer_keys
from tests.e2e.conftest import LiveSystem
from tests.e2e.conftest import live as _live  # noqa: F401  (the live system, as a fixture)

PASSPHRASE = "correct horse battery staple"
FILE_PASSPHRASE = "a trustee's own passphrase"
PHASE, VOTING, CHALLENGES = 100, 3600, 600
TEST_N = 1024
OPTIONS = ["green", "blue", "leave it"]


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest) -> LiveSystem:
    system: LiveSystem = request.getfixturevalue("_live")
    return system


def _fd(text: str) -> str:
    """A pipe's read end holding `text`: a passphrase as --passphrase-fd reads it."""
    read, write = os.pipe()
    os.write(write, text.encode() + b"\n")
    os.close(write)
    return str(read)


class Cli:
    def __init__(self, live: LiveSystem, tmp: Path) -> None:
        self.env = {
            "COMMONS_RPC_URL": live.node.url,
            "COMMONS_API_PORT": live.url.rsplit(":", 1)[1],
            "COMMONS_DEPLOYMENTS_DIR": str(live.data_dir / "deployments"),
            "COMMONS_DATA_DIR": str(tmp / "data"),
            "COMMONS_KEYSTORE_DIR": str(tmp / "keys"),
            "COMMONS_KEYSTORE_SCRYPT_N": str(TEST_N),
        }
        self.keystore = Keystore(tmp / "keys", scrypt_n=TEST_N)
        self.tmp = tmp

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env, catch_exceptions=False)

    def act(self, key: str, *args: str, file: Path | None = None, via: str = "direct") -> Result:
        extra = ["--key", key, "--passphrase-fd", _fd(PASSPHRASE), "--via", via]
        if file is not None:
            extra += ["--file", str(file), "--file-passphrase-fd", _fd(FILE_PASSPHRASE)]
        result = self.run("secret", *args, *extra)
        assert result.exit_code == 0, result.output
        return result


def _advance(live: LiveSystem, seconds: int) -> None:
    now = int(live.w3.eth.get_block("latest")["timestamp"])
    rpc(live.w3, "evm_mine", [now + seconds])


def test_a_secret_election_runs_end_to_end_through_the_api_and_the_trustees_cli(
    live: LiveSystem, accounts: list[LocalAccount], tmp_path: Path, build_cache: Path
) -> None:
    cli = Cli(live, tmp_path)
    audit_data_dir(tmp_path / "data", build_cache)  # the run's warm compile for its audit
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    admin, chair = accounts[0], accounts[1]
    trustees = accounts[5:8]
    for name, account in (("chair", chair), *((f"t{i}", a) for i, a in enumerate(trustees, 1))):
        cli.keystore.add(name, bytes(account.key), PASSPHRASE)
    community = registry.create_community(admin, Web3.keccak(text="secret election"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, chair.address)
    voters = signer_keys(6, "secret-e2e")
    registry.update_roll(admin, community, [v.address for v in voters])

    opened = cli.act(
        "chair", "open", "--community", str(community), "--question", "Paint the hall?",
        *(a for o in OPTIONS for a in ("--option", o)),
        *(a for t in ("t1", "t2", "t3") for a in ("--trustee", t)),
        "--threshold", "2", "--phase", str(PHASE), "--voting", str(VOTING),
        "--challenges", str(CHALLENGES),
    )  # fmt: skip
    vote_id = int(re.search(r"secret vote (\d+) opened", opened.output).group(1))  # type: ignore[union-attr]
    files = {t: tmp_path / f"{t}.trustee" for t in ("t1", "t2", "t3")}
    for t, file in files.items():
        made = cli.act(t, "register", str(vote_id), file=file)
        assert "secrets kept in" in made.output
        assert oct(file.stat().st_mode & 0o777) == "0o600"
    _advance(live, PHASE)
    cli.act("t1", "deal", str(vote_id), file=files["t1"])
    # Anyone reads whose part is still to come, without a key.
    shown = cli.run("secret", "show", str(vote_id))
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"secret vote {vote_id} of community {community}: Dealing"
    assert "2 of 3 trustees decrypt together" in lines
    t1, t2 = trustees[0].address, trustees[1].address
    assert f"trustee 1 {t1}: key registered, shares dealt" in lines
    assert f"trustee 2 {t2}: key registered, no shares dealt yet" in lines
    for t in ("t2", "t3"):
        cli.act(t, "deal", str(vote_id), file=files[t])
    _advance(live, PHASE)
    for t, file in files.items():
        assert "no complaint" in cli.act(t, "check-deals", str(vote_id), file=file).output
    _advance(live, PHASE)
    for t, file in files.items():
        assert "no complaint to answer" in cli.act(t, "answer", str(vote_id), file=file).output
    _advance(live, PHASE)
    closed = cli.act("t1", "close-keys", str(vote_id), via="relay")  # gasless, forwarded
    assert "qualified trustees [1, 2, 3]" in closed.output
    # No trustee's secret ever reaches the terminal.
    wrong = cli.run("secret", "decrypt", str(vote_id), "--key", "t1", "--passphrase-fd",
                    _fd(PASSPHRASE), "--file", str(files["t1"]), "--file-passphrase-fd",
                    _fd("not it"))  # fmt: skip
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.output

    # Residents vote through the API.
    secret = SecretBallotContract(w3, live.deployment.secret)
    choices = [0, 1, 1, 2]

    def body(voter: LocalAccount, words: list[int]) -> dict[str, Any]:
        signed = secret.sign(voter, vote_id, words)
        return {"voteId": vote_id, "voter": voter.address, "words": [hex(w) for w in words],
                "signature": "0x" + signed.signature.hex()}  # fmt: skip

    receipts = [
        httpx.post(f"{live.url}/v1/secret-ballots", timeout=30,
                   json=body(v, secret.ballot_words(vote_id, v.address, c))).json()
        for v, c in zip(voters, choices, strict=False)
    ]  # fmt: skip
    assert [d["status"] for d in live.client.wait_all(receipts)] == ["counted"] * 4
    # A ballot whose proof is another voter's: the API refuses it, a rogue relayer lands it.
    cheat = voters[4]
    copied = secret.ballot_words(vote_id, voters[0].address, 0)
    refused = httpx.post(f"{live.url}/v1/secret-ballots", json=body(cheat, copied), timeout=30)
    assert refused.json()["code"] == "InvalidBallotProof"
    assert secret.cast(accounts[9], vote_id, [secret.sign(cheat, vote_id, copied)]).cast

    _advance(live, VOTING)
    valid = cli.run("secret", "challenge", str(vote_id), voters[0].address, "--key", "chair",
                    "--passphrase-fd", _fd(PASSPHRASE), "--via", "direct")  # fmt: skip
    assert valid.exit_code == 1 and "BallotProofsValid" in valid.output
    cli.act("chair", "challenge", str(vote_id), cheat.address)
    assert int(secret.vote(vote_id).ballotCount) == 4

    _advance(live, CHALLENGES)
    for t in ("t1", "t2"):
        cli.act(t, "decrypt", str(vote_id), file=files[t])
    third = trustees[2]
    honest = [w for p in secret.partials(vote_id, _trustee_3(files["t3"], third))
              for w in p.words()]  # fmt: skip
    honest[2] = (honest[2] + 1) % 2**250
    with pytest.raises(ContractRuleBroken) as broken:
        secret.send(third, secret.contract.functions.publishPartialDecryption(vote_id, honest))
    assert broken.value.error == "InvalidPartialDecryption"
    finalized = cli.act("t3", "finalize", str(vote_id), via="relay")
    assert "tally found: [1, 2, 1]" in finalized.output
    lines = cli.run("secret", "show", str(vote_id)).output.splitlines()
    assert lines[0].endswith(": Finalized")
    assert f"trustee 1 {t1}: key registered, shares dealt, decryption part published" in lines
    assert f"trustee 3 {trustees[2].address}: key registered, shares dealt" in lines
    unknown = cli.run("secret", "show", "999")
    assert (unknown.exit_code, unknown.output.strip()) == (1, "error: no secret vote 999")

    live.client.wait_indexed(w3.eth.block_number)
    final = live.client.get(f"/v1/secret-votes/{vote_id}")
    assert (final["state"], final["tally"], final["voidedCount"]) == ("Finalized", [1, 2, 1], 1)
    assert (final["question"], final["options"]) == ("Paint the hall?", OPTIONS)
    audit = cli.run("audit", "--fresh", "--quiet")
    assert audit.exit_code == 0, audit.output
    assert "CLEAN" in audit.output


def _trustee_3(file: Path, account: LocalAccount) -> Trustee:
    """Trustee 3 as the test wrapper plays it, from its own trustee file."""
    state = load(file, FILE_PASSPHRASE)
    return Trustee(3, account, 2, state.secret, dict(state.received))
