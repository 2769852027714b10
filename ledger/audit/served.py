"""`commons audit --api URL`: what a running API serves, compared with the chain.

The API answers lists from its event index, a cache kept by the relay worker; an index edited
behind its back (or a bug) serves a false ballot list, balances or fund trail while the chain
is right. This reads those answers back and compares each with the audit's own rebuilt state
(tallies, time-bank balances) or with the chain's logs up to the audited block (ballots, the
fund trail), naming each difference as an `api.served` finding.

Entries the API serves from blocks after the audited one are left out: the chain moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx
from eth_abi.exceptions import DecodingError

from ledger.audit.abi import ContractAbi
from ledger.audit.ethcodec import hex_bytes, to_hex
from ledger.audit.funds import TRAIL_EVENTS
from ledger.audit.model import AuditWarning, Finding
from ledger.audit.state import AuditState
from ledger.errors import AuditInfraError
from ledger.transport import RpcClient

PAGE: Final = 100
LOG_SPAN: Final = 10_000
HTTP_TIMEOUT_S: Final = 30.0


class _Unserved(Exception):
    """The API would not answer a read (it says why): nothing to compare there."""


class ServedCheck:
    def __init__(
        self,
        api_url: str,
        rpc: RpcClient,
        contracts: Mapping[str, bytes],
        abis: Mapping[str, ContractAbi],
        first_block: int,
        to_block: int,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.rpc = rpc
        self.contracts = contracts
        self.abis = {k: abis[k] for k in ("council", "fund")}
        self.first_block = first_block
        self.to_block = to_block
        self.findings: list[Finding] = []
        self.warnings: list[AuditWarning] = []

    def run(self, state: AuditState) -> tuple[list[Finding], list[AuditWarning]]:
        logs = self._chain_events()
        with httpx.Client(base_url=self.api_url, timeout=HTTP_TIMEOUT_S) as http:
            self.http = http
            checks: list[tuple[str, Callable[[], None]]] = [
                ("proposals", lambda: self._proposals(state)),
                ("ballots", lambda: self._ballots(state, logs["council"])),
                ("balances", lambda: self._balances(state)),
                ("fund trail", lambda: self._trail(state, logs["fund"])),
            ]
            for name, check in checks:
                try:
                    check()
                except _Unserved as exc:
                    self.warnings.append(
                        AuditWarning("api.served", None, None, f"{name} not compared: {exc}")
                    )
        return self.findings, self.warnings

    # ------------------------------------------------------------------------------- reads

    def _get(self, path: str, **params: Any) -> Any:
        try:
            response = self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise AuditInfraError(
                f"the API at {self.api_url} did not answer ({type(exc).__name__})"
            ) from exc
        if response.status_code != 200:
            try:
                body = response.json()
                why = f"{body['code']}: {body['detail']}"
            except (ValueError, KeyError, TypeError):
                why = response.text[:200]
            raise _Unserved(f"GET {path} answered {response.status_code} ({why})")
        return response.json()

    def _pages(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._get(path, limit=PAGE, offset=len(items))
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                return items

    def _chain_events(self) -> dict[str, list[tuple[int, str, str, dict[str, Any]]]]:
        """(block, tx, event, args) of the council's and the fund's logs, in chain order."""
        out: dict[str, list[tuple[int, str, str, dict[str, Any]]]] = {k: [] for k in self.abis}
        by_address = {to_hex(self.contracts[k]): k for k in self.abis}
        for start in range(self.first_block, self.to_block + 1, LOG_SPAN):
            query = {
                "address": list(by_address),
                "fromBlock": hex(start),
                "toBlock": hex(min(start + LOG_SPAN - 1, self.to_block)),
            }
            for entry in self.rpc.call("eth_getLogs", [query]):
                key = by_address.get(str(entry["address"]).lower())
                topics = [hex_bytes(t) for t in entry["topics"]]
                event = self.abis[key].events.get(topics[0]) if key and topics else None
                if key is None or event is None:
                    continue  # not an event of ours: nothing the API serves
                try:
                    args = event.decode(topics, hex_bytes(entry["data"]))
                except (ValueError, DecodingError):
                    continue  # malformed: the walk names it, and the API cannot serve it
                block, tx = int(entry["blockNumber"], 16), str(entry["transactionHash"]).lower()
                out[key].append((block, tx, event.name, args))
        return out

    def _differs(
        self,
        what: str,
        expected: Any,
        found: Any,
        *,
        block: int | None = None,
        tx: str | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                "api.served",
                block,
                tx,
                _short(expected),
                _short(found),
                f"{what}: the API at {self.api_url} serves what the chain does not say",
            )
        )

    # ----------------------------------------------------------------------------- checks

    def _proposals(self, state: AuditState) -> None:
        served = {int(p["id"]): p for p in self._pages("/v1/proposals")}
        for pid in sorted(set(state.proposals) - set(served)):
            self._differs(f"GET /v1/proposals leaves out proposal {pid}", pid, None)
        for pid in sorted(set(served) - set(state.proposals)):
            self._differs(f"GET /v1/proposals lists proposal {pid}, not on the chain", None, pid)
        for pid in sorted(set(served) & set(state.proposals)):
            tally = [int(v) for v in served[pid]["tally"]]
            if tally != state.proposals[pid].tally:
                self._differs(
                    f"GET /v1/proposals: proposal {pid}'s tally", state.proposals[pid].tally, tally
                )

    def _ballots(
        self, state: AuditState, council: list[tuple[int, str, str, dict[str, Any]]]
    ) -> None:
        for pid in sorted(state.proposals):
            chain = [
                (block, tx, str(a["voter"]).lower(), int(a["option"]))
                for block, tx, event, a in council
                if event == "BallotCast" and int(a["proposalId"]) == pid
            ]
            served = []
            for e in self._pages(f"/v1/proposals/{pid}/ballots"):
                if int(e["block"]) > self.to_block:
                    continue
                a = e.get("args") or {}
                voter, option = a.get("voter"), a.get("option")
                served.append(
                    (
                        int(e["block"]),
                        str(e["tx_hash"]).lower(),
                        None if voter is None else str(voter).lower(),
                        None if option is None else int(option),
                    )
                )
            if served != chain:
                first = next(
                    (i for i, (c, s) in enumerate(zip(chain, served, strict=False)) if c != s),
                    min(len(chain), len(served)),
                )
                at = chain[first] if first < len(chain) else served[first]
                self._differs(
                    f"GET /v1/proposals/{pid}/ballots ({len(served)} served, {len(chain)} on "
                    f"the chain; first difference at ballot {first})",
                    chain[first] if first < len(chain) else None,
                    served[first] if first < len(served) else None,
                    block=at[0],
                    tx=at[1],
                )

    def _balances(self, state: AuditState) -> None:
        for community in sorted(state.timebanks):
            book = state.timebanks[community]
            expected = {to_hex(a): v for a, v in book.balances.items() if v != 0}
            served = {
                str(b["account"]).lower(): int(b["minutes"])
                for b in self._pages(f"/v1/communities/{community}/balances")
                if int(b["minutes"]) != 0
            }
            for account in sorted(set(expected) | set(served)):
                if expected.get(account) != served.get(account):
                    self._differs(
                        f"GET /v1/communities/{community}/balances: {account}",
                        expected.get(account, 0),
                        served.get(account, 0),
                    )

    def _trail(self, state: AuditState, fund: list[tuple[int, str, str, dict[str, Any]]]) -> None:
        for community in sorted(state.funds):
            chain = [
                (block, tx, event, _amount(a))
                for block, tx, event, a in fund
                if event in TRAIL_EVENTS and int(a["communityId"]) == community
            ]
            served = [
                (int(e["block"]), str(e["tx_hash"]).lower(), str(e["step"]), int(e["amount"]))
                for e in self._pages(f"/v1/communities/{community}/fund/trail")
                if int(e["block"]) <= self.to_block
            ]
            for step in [s for s in chain if s not in served]:
                self._differs(
                    f"GET /v1/communities/{community}/fund/trail leaves out {step[2]}",
                    step,
                    None,
                    block=step[0],
                    tx=step[1],
                )
            for step in [s for s in served if s not in chain]:
                self._differs(
                    f"GET /v1/communities/{community}/fund/trail serves a {step[2]} the chain "
                    "does not have",
                    None,
                    step,
                    block=step[0],
                    tx=step[1],
                )


def _amount(args: Mapping[str, Any]) -> int:
    return int(args.get("amount", args.get("released", 0)))


def _short(value: Any) -> str | None:
    return None if value is None else str(value)[:300]
