"""A real community's first hour, from an empty data directory, without the demo: keys made
with `commons key new`, the system deployed and served by `commons run --no-demo`, the
community created by `brownie run scripts/create_community.py` and handed to the admin's
keystore key, every role granted and every parameter set with `commons admin` (through the
relay, directly, and with brownie), the roll published by the registrar, a proposal opened
by the chair with `commons proposal open` and voted on through the API and, by a resident on a
phone, through the page behind nginx over TLS, where the admin also grants a role in the page's
Admin view (web/tests/admin_story.mjs); `commons audit` of the chain is clean and its "Admin
acts" table names every act, the page's too. Each step is a subprocess, as an admin would type
it; the test prints how long each took. Screenshots go to test-artifacts/admin-story/."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from ledger.build import Artifact
from ledger.config import Settings
from ledger.keystore import Keystore
from ledger.node import ephemeral_node, free_port, make_web3, rpc
from ledger.offchain import text_hash
from ledger.protocol.generated import Roles
from ledger.signing.ballots import BallotDomain, make_ballot, sign_ballot
from tests.e2e.browser import ARTIFACTS_ROOT, build_page, missing_tool, needs_browser, run_story
from tests.e2e.test_supervision import Running, start, stop_by_pid
from tests.e2e.tls import NGINX, PROXY_ADDRESS, make_certs, tls_proxy

BIN = Path(sys.executable).parent
COMMONS, BROWNIE = str(BIN / "commons"), str(BIN / "brownie")
PASSPHRASE = "the estate's first passphrase"
TEST_N = 1024  # scrypt cost of the test's key files: the format matters here, not the cost
OFFICERS = ("admin", "chair", "treasurer", "secretary", "registrar", "coordinator", "auditor")
COMMITTEE = ("chair", "treasurer", "secretary")
ARTIFACTS = ARTIFACTS_ROOT / "admin-story"
needs_nginx = pytest.mark.skipif(
    not NGINX.exists() and not os.environ.get("CI"), reason="needs nginx (make nginx)"
)


class Story:
    """The community's machine: `commons` and `brownie` run against one `commons run`."""

    def __init__(self, running: Running, tmp_path: Path, network: str) -> None:
        self.running = running
        self.tmp_path = tmp_path
        self.network = network
        self.env = running.env
        self.durations: list[tuple[str, float]] = []

    def commons(
        self, *args: str, passphrase: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`commons *args`, a passphrase given on a pipe as --passphrase-fd."""
        fds: tuple[int, ...] = ()
        if passphrase is not None:
            read_end, write_end = os.pipe()
            os.write(write_end, passphrase.encode() + b"\n")
            os.close(write_end)
            args, fds = (*args, "--passphrase-fd", str(read_end)), (read_end,)
        try:
            result = subprocess.run(
                [COMMONS, *args], env=self.env, capture_output=True, text=True, timeout=180,
                stdin=subprocess.DEVNULL, pass_fds=fds,
            )  # fmt: skip
        finally:
            for fd in fds:
                os.close(fd)
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def act(
        self, *args: str, key: str = "admin", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`commons admin *args` signed by keystore key `key`."""
        return self.commons("admin", *args, "--key", key, passphrase=PASSPHRASE, check=check)

    def brownie(
        self, script: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BROWNIE, "run", f"scripts/{script}", "main", *args, "--network", self.network],
            cwd=self.running.settings.project_root, env=self.env, capture_output=True,
            text=True, timeout=900, input=stdin, start_new_session=True,
        )  # fmt: skip

    def brownie_ok(self, script: str, *args: str, stdin: str | None = None) -> str:
        result = self.brownie(script, *args, stdin=stdin)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    def address(self, name: str) -> str:
        return self.commons("key", "address", name).stdout.strip()

    def timed(self, step: str, started: float) -> None:
        self.durations.append((step, time.monotonic() - started))


@pytest.fixture
def story(tmp_path: Path, settings: Settings) -> Iterator[Story]:
    """`commons run --no-demo` from an empty data dir, with its own keystore directory, serving
    the page as built now and trusting the TLS proxy's address."""
    if missing_tool() is None:
        build_page()
    running = start(
        tmp_path,
        keystore_dir=str(tmp_path / "keys"),
        keystore_scrypt_n=str(TEST_N),
        trusted_proxies=PROXY_ADDRESS,
    )
    running.env = {**running.env, "SOLCX_BINARY_PATH": str(settings.solc_binary_dir)}
    try:
        yield Story(running, tmp_path, network="")
    finally:
        stop_by_pid(running)


@pytest.fixture
def brownie_story(story: Story) -> Iterator[Story]:
    """`story` with a brownie network named for its chain."""
    story.network = f"commons-admin-{uuid.uuid4().hex[:8]}"
    add = [BROWNIE, "networks", "add", "Ethereum", story.network,
           f"host=http://127.0.0.1:{story.running.settings.anvil_port}", "chainid=31337"]  # fmt: skip
    subprocess.run(add, env=story.env, check=True, capture_output=True, timeout=120)
    try:
        yield story
    finally:
        subprocess.run(
            [BROWNIE, "networks", "delete", story.network],
            env=story.env, capture_output=True, timeout=120,
        )  # fmt: skip


def wait_counted(api: str, receipt_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The ballot's receipt once the relay counted (or rejected) it."""
    deadline = time.monotonic() + timeout
    while True:
        receipt: dict[str, Any] = httpx.get(f"{api}/v1/receipts/{receipt_id}", timeout=10).json()
        if receipt["status"] in ("counted", "rejected") or time.monotonic() > deadline:
            return receipt
        time.sleep(0.1)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@needs_browser
@needs_nginx
def test_an_admin_runs_a_community_from_an_empty_data_dir_with_the_cli_brownie_and_the_page(
    brownie_story: Story, artifacts: dict[str, Artifact]
) -> None:
    story = brownie_story
    began = time.monotonic()
    w3 = make_web3(f"http://127.0.0.1:{story.running.settings.anvil_port}")

    started = time.monotonic()
    for name in OFFICERS:
        story.commons("key", "new", name, passphrase=PASSPHRASE)
    officer = {name: story.address(name) for name in OFFICERS}
    story.timed("keys for the admin and six officers (commons key new)", started)

    started = time.monotonic()
    out = story.brownie_ok(
        "create_community.py", "Riverside Estate residents' council", officer["admin"]
    )
    community = int(re.search(r"community (\d+) created", out).group(1))  # type: ignore[union-attr]
    assert "AdminTransferStarted" in out
    story.act("accept-admin", "--community", str(community))
    story.timed("community created with brownie, handed to the admin's key", started)

    started = time.monotonic()
    for name in COMMITTEE:
        story.act("grant", "COMMITTEE", name, "--community", str(community))
    story.act("grant", "REGISTRAR", "registrar", "--community", str(community))
    story.act("grant", "COORDINATOR", "coordinator", "--community", str(community))
    story.timed("five roles granted through the relay (gasless)", started)
    # brownie's first account created the community but handed it on: it is refused, in a line.
    refused = story.brownie("grant_role.py", str(community), "AUDITOR", officer["auditor"])
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ")
    assert f"is not the admin of community {community} (it is {officer['admin']})" in refused.stderr
    assert w3.eth.get_balance(officer["admin"]) == 0  # the relayer paid for all of it

    started = time.monotonic()
    # Direct transactions from the admin's key (by `commons admin --via direct`, or brownie
    # with the key's file): its account pays, so it is funded first.
    rpc(w3, "anvil_setBalance", [officer["admin"], hex(10**18)])
    story.act("set-currency", "CNY", "--community", str(community), "--via", "direct")
    admin_file = str(story.tmp_path / "keys" / "admin.json")
    unlock = PASSPHRASE + "\n"
    out = story.brownie_ok("grant_role.py", str(community), "AUDITOR", officer["auditor"],
                        admin_file, stdin=unlock)  # fmt: skip
    assert "RoleGranted" in out
    out = story.brownie_ok("set_fund.py", str(community), "-", "2", admin_file, stdin=unlock)
    assert "ApprovalThresholdSet" in out
    out = story.brownie_ok(
        "set_limits.py", str(community), "-600", "6000", admin_file, stdin=unlock
    )
    assert "LimitsSet" in out
    story.timed("currency (direct), AUDITOR, threshold and limits (brownie, key file)", started)

    started = time.monotonic()
    residents = [Account.create() for _ in range(3)]
    roll_csv = story.tmp_path / "residents.csv"
    rows = [(r.address, f"Resident {n}, 2-{n}01") for n, r in enumerate(residents, 1)]
    rows += [(story.address(name), f"{name}, committee") for name in COMMITTEE]
    with roll_csv.open("w", newline="") as f:
        csv.writer(f).writerows([("address", "person"), *rows])
    out = story.commons("roll", "import", str(roll_csv), "--community", str(community),
                        "--key", "registrar", passphrase=PASSPHRASE).stdout  # fmt: skip
    assert "roll version 1 in force: 6 residents" in out
    story.timed("roll of six residents imported from a CSV and published by the registrar", started)

    started = time.monotonic()
    report_key = story.tmp_path / "report.pem"
    story.commons("audit", "keygen", str(report_key))
    story.act("register-auditor-key", "--community", str(community), "--report-key",
              str(report_key), key="auditor")  # fmt: skip
    story.timed("auditor's report key made and registered", started)

    shown = story.commons("admin", "show", "--community", str(community)).stdout
    assert officer["admin"] in shown
    roles = next(line for line in shown.splitlines() if line.strip().startswith("roles:"))
    assert all(
        f"{r}, " in roles + ", "
        for r in ("AUDITOR 1", "COMMITTEE 3", "COORDINATOR 1", "REGISTRAR 1")
    )
    assert "CNY" in shown and "threshold:  2" in shown and "-600..6000" in shown
    assert "version 1, 6 residents" in shown
    history = story.commons("admin", "history", "--community", str(community)).stdout
    acts = [line.split()[2].split("(")[0] for line in history.splitlines()]
    assert acts == [
        "CommunityCreated", "AdminTransferStarted", "AdminTransferred",
        *["RoleGranted"] * 5, "FundCurrencySet", "RoleGranted", "ApprovalThresholdSet",
        "LimitsSet", "RollPublished", "AuditorKeyRegistered",
    ], history  # fmt: skip
    assert f"RoleGranted(role=AUDITOR, account={officer['auditor']}" in history

    started = time.monotonic()
    # The chair opens a proposal with `commons proposal open` (its text stored through the API,
    # the request relayed: the chair pays nothing); a resident votes through the API.
    record = json.loads((story.running.settings.deployments_dir / "31337.json").read_text())
    contracts = {key: w3.eth.contract(address=record["contracts"][key]["address"], abi=artifacts[name].abi,
                                 decode_tuples=True)
                 for key, name in (("council", "Council"), ("registry", "Registry"))}  # fmt: skip
    council = contracts["council"]
    text = "Plant twelve trees along the estate's east path."
    text_file = story.tmp_path / "proposal.txt"
    text_file.write_text(text, encoding="utf-8")
    out = story.commons("proposal", "open", "--community", str(community), "--text",
                        str(text_file), "--period", "1d", "--quorum", "30", "--threshold", "50",
                        "--key", "chair", passphrase=PASSPHRASE).stdout  # fmt: skip
    proposal = int(re.search(r"proposal (\d+) opened", out).group(1))  # type: ignore[union-attr]
    assert proposal == council.functions.proposalCount().call()
    assert w3.eth.get_balance(officer["chair"]) == 0
    api = story.running.api_url
    stored = httpx.get(f"{api}/v1/texts/{text_hash(text)}", timeout=10).json()
    assert stored["text"] == text
    domain = BallotDomain(w3.eth.chain_id, council.address)
    signed = sign_ballot(residents[0], make_ballot(proposal, residents[0].address, 0), domain)
    body = {"proposalId": proposal, "voter": residents[0].address, "option": 0,
            "signature": "0x" + signed.signature.hex()}  # fmt: skip
    accepted = httpx.post(f"{api}/v1/ballots", json=body, timeout=10)
    assert accepted.status_code == 202, accepted.text
    assert wait_counted(api, accepted.json()["id"])["status"] == "counted"
    story.timed("proposal opened with commons proposal open, a resident's ballot counted", started)

    started = time.monotonic()
    # The same act from brownie, with the chair's key file: its account pays the gas.
    rpc(w3, "anvil_setBalance", [officer["chair"], hex(10**18)])
    chair_file = str(story.tmp_path / "keys" / "chair.json")
    out = story.brownie_ok("open_proposal.py", str(community), str(text_file), "3", "2d", "20",
                           "40", chair_file, stdin=unlock)  # fmt: skip
    assert f"proposal {proposal + 1} opened in community {community}" in out
    assert council.functions.getProposal(proposal + 1).call().optionCount == 3
    story.timed("a three-option proposal opened with brownie (scripts/open_proposal.py)", started)

    started = time.monotonic()
    # nginx over TLS in front of the API; on a phone, a resident votes in the page and the admin
    # grants AUDITOR to a second auditor in the Admin view, signed in the page.
    second_auditor = Account.create().address
    admin_key = Keystore(story.tmp_path / "keys", TEST_N).unlock("admin", PASSPHRASE).key
    (story.tmp_path / "nginx").mkdir()
    with tls_proxy(story.env, make_certs(story.tmp_path), story.tmp_path / "nginx") as proxy:
        story.timed("nginx started over TLS (commons proxy-config)", started)
        started = time.monotonic()
        answers = {
            "resident": lambda _: {"key": "0x" + bytes(residents[1].key).hex(), "proposal": proposal},
            "admin": lambda _: {"key": "0x" + bytes(admin_key).hex(), "grant": second_auditor,
                                "held": officer["auditor"]},
        }  # fmt: skip
        browser = run_story("admin_story.mjs", proxy.https, ARTIFACTS, answers,
                            extra_args=("--spki", proxy.certs.spki_sha256))  # fmt: skip
    for done in browser["steps"]:
        story.durations.append((f"  in the page: {done['name']}", done["ms"] / 1000))
    story.timed("the page over TLS: a resident's vote, the admin's grant", started)
    assert council.functions.hasVoted(proposal, residents[1].address).call()
    registry = contracts["registry"].functions
    assert registry.hasRole(community, Roles.AUDITOR, second_auditor).call()
    refusal = next(s for s in browser["steps"] if s["name"].startswith("refused"))["refusal"]
    assert f"{officer['auditor']} already holds" in refusal
    history = story.commons("admin", "history", "--community", str(community)).stdout
    assert history.splitlines()[-1].endswith(
        f"RoleGranted(role=AUDITOR, account={second_auditor}, sender={officer['admin']})"
    ), history

    started = time.monotonic()
    audit = story.commons("audit", "--out", str(story.tmp_path / "audit"), "--quiet", check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "CLEAN" in audit.stdout
    report = (story.tmp_path / "audit" / "report.md").read_text()
    # The audit re-derived the community the acts made: fund, time bank, roll.
    assert f"| {community} | CNY | 0 | 0 | 0 | 0 | 2 |" in report
    assert "-600..6000" in report and "v1 (6)" in report
    # The audit names every administrative act, the one signed in the page too, and who acted.
    acts_table = json.loads((story.tmp_path / "audit" / "report.json").read_text())
    audited = acts_table["report"]["admin_acts"]
    in_history = [line.split()[2].split("(")[0] for line in history.splitlines()]
    assert [a["act"] for a in audited] == in_history, (audited, history)
    page_act = audited[-1]
    assert (page_act["act"], page_act["by"].lower()) == ("RoleGranted", officer["admin"].lower())
    assert f"role=AUDITOR, account={second_auditor.lower()}" in page_act["detail"]
    assert "Admin acts" in report and second_auditor.lower() in report
    story.timed("commons audit of the chain", started)
    print(audit.stdout)

    total = time.monotonic() - began
    print("\nfirst hour of a real community, as measured:")
    for step, seconds in story.durations:
        print(f"  {seconds:6.1f} s  {step}")
    print(f"  {total:6.1f} s  in all")


def test_refusals_are_one_line_with_exit_1_and_a_dry_run_changes_nothing(story: Story) -> None:
    for name in ("admin", "neighbour"):
        story.commons("key", "new", name, passphrase=PASSPHRASE)
    out = story.act("create-community", "Hillside Court").stdout
    assert "community 1 created" in out
    neighbour = story.address("neighbour")

    refused = one_error_line(story.act("grant", "COMMITTEE", neighbour, "--community", "1",
                                       key="neighbour", check=False))  # fmt: skip
    assert f"{neighbour} is not the admin of community 1" in refused

    # A dry run asks no passphrase (none is given here) and signs nothing.
    dry = story.commons(
        "admin", "grant", "COMMITTEE", "neighbour", "--community", "1", "--key", "admin",
        "--dry-run",
    )  # fmt: skip
    assert "function: grantRole(uint256,bytes32,address)" in dry.stdout
    assert f"account={neighbour}" in dry.stdout
    assert "must be signed by: the admin of community 1" in dry.stdout
    assert "nothing was signed or sent" in dry.stdout
    shown = story.commons("admin", "show", "--community", "1").stdout
    assert "COMMITTEE 0" in shown

    wrong = story.commons(
        "admin", "grant", "COMMITTEE", neighbour, "--community", "1", "--key", "admin",
        passphrase="not the passphrase", check=False,
    )  # fmt: skip
    assert one_error_line(wrong) == "error: wrong passphrase for key 'admin'"
    assert "COMMITTEE 0" in story.commons("admin", "show", "--community", "1").stdout

    unknown = story.act("set-limits", "--community", "99", "--floor", "-60", "--ceiling", "60",
                        check=False)  # fmt: skip
    assert "there is no community 99 (communities: 1 to 1)" in one_error_line(unknown)

    early = story.act("set-threshold", "2", "--community", "1", check=False)
    assert "grant COMMITTEE first" in one_error_line(early)

    bad_role = story.act("grant", "TREASURER", neighbour, "--community", "1", check=False)
    assert "unknown role 'TREASURER'" in one_error_line(bad_role)

    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = story.act("grant", "COMMITTEE", neighbour, "--community", "1", "--api", nowhere,
                            check=False)  # fmt: skip
    assert f"cannot reach the API at {nowhere}" in one_error_line(unreachable)

    with ephemeral_node(story.running.settings.model_copy(update={"chain_id": 5})) as other:
        elsewhere = story.act(
            "grant", "COMMITTEE", neighbour, "--community", "1", "--rpc", other.url, check=False
        )
    assert "node reports chain id 5, configured chain id is 31337" in one_error_line(elsewhere)
