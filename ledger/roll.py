"""The registrar's roll work beyond a single act: who is on the roll (read from the chain's
events), a CSV of residents read and checked whole before anything is sent, batches small
enough for one forward request, and the join requests and people records the API keeps.

The acts themselves are `ledger.admin.update_roll` and `publish_roll`: checked, simulated and
sent by ledger/admin.py's one path. Nothing here trusts the API: the roll comes from the chain,
and a join request the API hands over is used only once its signature is checked here.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_checksum_address

from ledger.admin import AdminChain, AdminRefused, RelayApi
from ledger.hashing import checksum_address
from ledger.signing.eip712 import SignatureError
from ledger.signing.joins import JoinRequest, read_code, verify_join

# Residents added per updateRoll: each new one costs ~24,000 gas (a fresh storage word, its
# calldata and event bytes); 200 simulate at 4,872,413 gas, 6.1M with the 1.25 margin
# ledger.admin adds: under the relay's 10,000,000 for a forward request
# (tests/commons/test_roll_cli.py::test_a_full_batch_fits_one_forward_request measures it).
BATCH_SIZE = 200
MAX_PERSON = 500  # the API's PersonIn limit


@dataclass(frozen=True)
class Roll:
    """The roll in force (`published`, at `version`) and with the registrar's staged changes."""

    version: int
    published: frozenset[str]
    staged: frozenset[str]


def read_roll(chain: AdminChain, community: int) -> Roll:
    """The roll from the chain's RollUpdated events (a staged change carries the version after
    the published one)."""
    chain.admin_of(community)  # the community exists
    version = int(chain.view("registry", "rollSnapshot", community)["version"])
    event = chain.registry.events.RollUpdated()
    logs = event.get_logs(
        from_block=chain.deployment.start_block, argument_filters={"communityId": community}
    )
    published: set[str] = set()
    staged: set[str] = set()
    for log in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
        staged_only = int(log["args"]["version"]) > version
        for members in (staged,) if staged_only else (published, staged):
            members.difference_update(log["args"]["removed"])
            members.update(log["args"]["added"])
    return Roll(version, frozenset(published), frozenset(staged))


@dataclass(frozen=True)
class RollRow:
    line: int
    address: str
    person: str | None


def read_csv(path: Path) -> list[RollRow]:
    """Every row of a residents' CSV (a header row; an `address` column, an optional `person`
    column), or AdminRefused naming the first bad row's line and how many are bad."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminRefused(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "address" not in header:
        raise AdminRefused(f"{path}: the first line must name the columns, one of them `address`")
    reader.fieldnames = header
    rows: list[RollRow] = []
    bad: list[str] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        problem, row = _row(line, record, seen)
        if problem:
            bad.append(f"line {line}: {problem}")
        elif row is not None:
            seen[row.address] = line
            rows.append(row)
    if bad:
        more = f" ({len(bad)} bad rows in all)" if len(bad) > 1 else ""
        raise AdminRefused(f"{path} {bad[0]}{more}; nothing was sent")
    return rows


def _row(line: int, record: dict[str, Any], seen: dict[str, int]) -> tuple[str, RollRow | None]:
    if None in record:
        return "more values than columns", None
    raw = (record.get("address") or "").strip()
    person = (record.get("person") or "").strip() or None
    if not raw and not person:
        return "", None  # a blank line
    try:
        address = checksum_address(raw)
    except ValueError:
        return f"{raw!r} is not an address", None
    if raw != raw.lower() and raw[2:] != raw[2:].upper() and not is_checksum_address(raw):
        return f"{raw} has a wrong checksum (a mistyped character?)", None
    if address in seen:
        return f"{address} repeats line {seen[address]}", None
    if person is not None and len(person) > MAX_PERSON:
        return f"the person is longer than {MAX_PERSON} characters", None
    return "", RollRow(line, address, person)


def batches(items: Sequence[str], size: int = BATCH_SIZE) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class RegistrarApi(RelayApi):
    """The API's registrar-only parts, signed in with the registrar's key (sign-in with
    Ethereum: the server's challenge signed with personal_sign)."""

    def __init__(self, api_url: str, account: LocalAccount, *, timeout: float = 30.0) -> None:
        super().__init__(api_url, timeout=timeout)
        self.account = account
        self._token: tuple[str, float] | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None or self._token[1] < time.time() + 30:
            challenge = self.post("/v1/auth/challenge", {"address": self.account.address})
            signed = self.account.sign_message(encode_defunct(text=challenge["message"]))
            login = self.post(
                "/v1/auth/login",
                {"nonce": challenge["nonce"], "signature": "0x" + bytes(signed.signature).hex()},
            )
            self._token = (str(login["token"]), float(login["expiresAt"]))
        return {"Authorization": f"Bearer {self._token[0]}"}

    def pending(self, community: int) -> list[dict[str, Any]]:
        path = f"/v1/communities/{community}/joins"
        found: list[dict[str, Any]] = []
        while True:
            page = self._answer(
                lambda c: c.get(
                    path, params={"limit": 1000, "offset": len(found)}, headers=self._headers()
                )
            )
            found.extend(page["items"])
            if not page["items"] or len(found) >= int(page["total"]):
                return found

    def record_person(self, community: int, address: str, person: str) -> None:
        body = {"address": address, "person": person}
        path = f"/v1/communities/{community}/people"
        self._answer(lambda c: c.put(path, json=body, headers=self._headers()))


def join_by_code(relay: RelayApi, chain: AdminChain, community: int, code: str) -> JoinRequest:
    """The join request with this short code, from the API, once its signature is checked here
    to be its resident's own for this chain, Registry and community."""
    try:
        normal = read_code(code)
    except ValueError as exc:
        raise AdminRefused(str(exc)) from None
    return checked_join(chain, community, relay.get(f"/v1/communities/{community}/joins/{normal}"))


def checked_join(chain: AdminChain, community: int, data: dict[str, Any]) -> JoinRequest:
    """A join request the API (or a QR code) gave, verified here: the API is not trusted."""
    try:
        request = JoinRequest.from_json(data)
        verify_join(request, chain.deployment.chain_id, chain.registry.address)
    except SignatureError as exc:
        raise AdminRefused(f"refused join request: {exc}") from None
    if request.community_id != community:
        raise AdminRefused(
            f"the join request asks to join community {request.community_id}, not {community}"
        )
    return request
