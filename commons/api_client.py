"""A client of the Commons Ledger API that signs with the user's own key, as a wallet would.

Used by the demo seeding, the end-to-end tests and the load generator: everything it does goes
through the same public, signed paths a resident or committee member takes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from ledger.build import Artifact
from ledger.deploy import PLAN
from ledger.errors import LedgerError
from ledger.protocol.generated import MandateScope
from ledger.protocol.offchain import FORWARD_GAS
from ledger.signing.ballots import BallotDomain, make_ballot, sign_ballot
from ledger.signing.cosignatures import CoSignatureDomain, sign_cosignature
from ledger.signing.eip712 import sign_typed_data
from ledger.signing.election_proxy_ballots import (
    ElectionProxyDomain,
    make_election_proxy_ballot,
    sign_election_proxy_ballot,
)
from ledger.signing.forwards import sign_forward_request
from ledger.signing.mandates import MandateDomain, make_mandate, sign_mandate
from ledger.signing.ratings import RatingDomain, sign_rating
from ledger.signing.services import (
    SERVICE_TYPES,
    ServiceRecord,
    service_body,
    timebank_domain,
)

CONTRACT_NAMES = {key: name for key, name, _ in PLAN}
FINAL = frozenset({"counted", "rejected"})


class ApiClientError(LedgerError):
    """The API answered with an error: `code` is its machine code (often a contract rule)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"HTTP {status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class ApiClient:
    def __init__(
        self,
        base_url: str,
        w3: Web3,
        artifacts: dict[str, Artifact],
        *,
        timeout: float = 30.0,
    ) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self.w3 = w3
        chain = self.get("/v1/chain")
        self.chain_id: int = chain["chainId"]
        self.contracts: dict[str, Contract] = {
            key: w3.eth.contract(
                address=address, abi=artifacts[CONTRACT_NAMES[key]].abi, decode_tuples=True
            )
            for key, address in chain["contracts"].items()
        }
        self.ballot_domain = BallotDomain(self.chain_id, self.contracts["council"].address)
        self.service_domain = timebank_domain(self.chain_id, self.contracts["timebank"].address)
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    # --- plumbing ---------------------------------------------------------------------------------

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
                code, detail = body.get("code", "HttpError"), body.get("detail", response.text)
            except ValueError:
                code, detail = "HttpError", response.text
            raise ApiClientError(response.status_code, code, detail)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._check(
            self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        )

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._check(self.http.post(path, json=body))

    # --- signed actions ---------------------------------------------------------------------------

    def forward(
        self,
        signer: LocalAccount,
        call: ContractFunction,
        *,
        gas: int = 1_000_000,
        wrap: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """Sign `call` as `signer` (ERC-2771) and hand it to the relay; returns the receipt.
        `wrap` posts the signed request elsewhere than /v1/forward: (path, body) for it."""
        forwarder = self.contracts["forwarder"]
        with self._lock:
            nonce = self._nonces.get(signer.address)
            if nonce is None:
                nonce = forwarder.functions.nonces(signer.address).call()
            request = sign_forward_request(self.w3, forwarder, signer, call, gas=gas, nonce=nonce)
            path, body = ("/v1/forward", request.to_payload())
            if wrap is not None:
                path, body = wrap(body)
            try:
                receipt: dict[str, Any] = self.post(path, body)
            except ApiClientError:
                self._nonces.pop(signer.address, None)  # resynchronise from the chain next time
                raise
            self._nonces[signer.address] = nonce + 1
        return receipt

    def ballot(self, voter: LocalAccount, proposal_id: int, option: int) -> dict[str, Any]:
        signed = sign_ballot(
            voter, make_ballot(proposal_id, voter.address, option), self.ballot_domain
        )
        body = {
            "proposalId": proposal_id,
            "voter": voter.address,
            "option": option,
            "signature": "0x" + signed.signature.hex(),
        }
        receipt: dict[str, Any] = self.post("/v1/ballots", body)
        return receipt

    def appoint(
        self,
        resident: LocalAccount,
        community_id: int,
        proxy: str,
        scope: MandateScope,
        vote_id: int = 0,
    ) -> dict[str, Any]:
        """Appoint `proxy` as `resident`'s proxy (for every vote, or for proposal or election
        `vote_id`), with the resident's next mandate nonce."""
        mandates = self.contracts["mandates"]
        nonce = mandates.functions.nonceOf(resident.address).call()
        mandate = make_mandate(community_id, resident.address, proxy, scope, vote_id, nonce)
        domain = MandateDomain(self.chain_id, mandates.address)
        signed = sign_mandate(resident, mandate, domain)
        body = {
            "act": "appoint",
            "communityId": community_id,
            "resident": resident.address,
            "proxy": proxy,
            "scope": int(scope),
            "voteId": vote_id,
            "nonce": nonce,
            "signature": "0x" + signed.signature.hex(),
        }
        receipt: dict[str, Any] = self.post("/v1/mandates", body)
        return receipt

    def election_proxy_ballot(
        self, proxy: LocalAccount, election_id: int, voter: str, choices: int
    ) -> dict[str, Any]:
        """Cast `voter`'s election ballot `choices` as their proxy."""
        domain = ElectionProxyDomain(self.chain_id, self.contracts["election_proxies"].address)
        ballot = make_election_proxy_ballot(election_id, voter, proxy.address, choices)
        signed = sign_election_proxy_ballot(proxy, ballot, domain)
        body = {
            "electionId": election_id,
            "voter": ballot.voter,
            "proxy": proxy.address,
            "choices": choices,
            "signature": "0x" + signed.signature.hex(),
        }
        receipt: dict[str, Any] = self.post("/v1/election-proxy-ballots", body)
        return receipt

    def initiative(
        self,
        author: LocalAccount,
        community_id: int,
        text: str,
        budget: int = 0,
        currency: str = "",
    ) -> dict[str, Any]:
        """Submit an initiative: its text and the author's signed submit of its hash."""
        code = currency.encode("ascii").ljust(3, b"\x00")
        call = self.contracts["initiatives"].functions.submit(
            community_id, Web3.keccak(text=text), budget, code
        )
        return self.forward(
            author,
            call,
            gas=FORWARD_GAS["submitInitiative"],
            wrap=lambda request: ("/v1/initiatives", {"text": text, "request": request}),
        )

    def cosign(self, signer: LocalAccount, initiative_id: int) -> dict[str, Any]:
        domain = CoSignatureDomain(self.chain_id, self.contracts["initiatives"].address)
        signed = sign_cosignature(signer, initiative_id, domain)
        body = {
            "initiativeId": initiative_id,
            "signer": signer.address,
            "signature": "0x" + signed.signature.hex(),
        }
        receipt: dict[str, Any] = self.post("/v1/cosignatures", body)
        return receipt

    def rate(
        self, rater: LocalAccount, proposal_id: int, score: int, comment: str | None = None
    ) -> dict[str, Any]:
        """Rate a completed proposal; a comment is stored as a text and its hash signed."""
        comment_hash = bytes(32)
        if comment is not None:
            comment_hash = bytes.fromhex(self.post("/v1/texts", {"text": comment})["hash"][2:])
        domain = RatingDomain(self.chain_id, self.contracts["ratings"].address)
        signed = sign_rating(rater, proposal_id, score, comment_hash, domain)
        body = {
            "proposalId": proposal_id,
            "rater": rater.address,
            "score": score,
            "commentHash": "0x" + comment_hash.hex(),
            "signature": "0x" + signed.signature.hex(),
        }
        receipt: dict[str, Any] = self.post("/v1/ratings", body)
        return receipt

    def service_body(
        self,
        community_id: int,
        record: ServiceRecord,
        provider: LocalAccount,
        confirmer: LocalAccount,
    ) -> dict[str, Any]:
        def sig(account: LocalAccount) -> str:
            message = record.message(community_id)
            signature = sign_typed_data(
                account, self.service_domain, SERVICE_TYPES, "ServiceRecord", message
            )
            return "0x" + signature.hex()

        return service_body(community_id, record, sig(provider), sig(confirmer))

    def service(
        self,
        community_id: int,
        record: ServiceRecord,
        provider: LocalAccount,
        confirmer: LocalAccount,
    ) -> dict[str, Any]:
        """Record a service both sides signed (confirmer: the recipient, or a coordinator)."""
        receipt: dict[str, Any] = self.post(
            "/v1/services", self.service_body(community_id, record, provider, confirmer)
        )
        return receipt

    # --- waiting ----------------------------------------------------------------------------------

    def wait(self, receipt_id: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Poll a receipt until it is counted or rejected."""
        deadline = time.monotonic() + timeout
        while True:
            receipt: dict[str, Any] = self.get(f"/v1/receipts/{receipt_id}")
            if receipt["status"] in FINAL:
                return receipt
            if time.monotonic() > deadline:
                raise LedgerError(
                    f"receipt {receipt_id} still {receipt['status']} after {timeout:.0f}s"
                )
            time.sleep(0.05)

    def wait_all(
        self, receipts: Iterable[dict[str, Any]], *, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        return [self.wait(r["id"], timeout=timeout) for r in receipts]

    def act(
        self, signer: LocalAccount, call: ContractFunction, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Forward `call` and wait until it is on-chain; raise if the chain refused it."""
        done = self.wait(self.forward(signer, call)["id"], timeout=timeout)
        if done["status"] != "counted":
            raise LedgerError(f"{call.fn_name} was not executed: {done['detail']}")
        return done

    def wait_indexed(self, block: int, *, timeout: float = 30.0) -> None:
        """Wait until the API's index has caught up with `block` (for reads after writes)."""
        deadline = time.monotonic() + timeout
        while (self.get("/v1/chain")["indexedHead"] or -1) < block:
            if time.monotonic() > deadline:
                raise LedgerError(f"index did not reach block {block} within {timeout:.0f}s")
            time.sleep(0.05)
