"""A demo community a newcomer can explore, seeded once through the public signed paths.

Every step is a signed request, ballot or service record sent to the API — exactly what a
resident, registrar or committee member does. The demo's keys are generated on first run and
kept in the data directory (development chain only; never in the repository).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.api_client import ApiClient
from ledger.build import atomic_write
from ledger.offchain import text_hash
from ledger.protocol.generated import Roles
from ledger.signing.services import ServiceRecord, category_code

ROLES = ("admin", "chair", "treasurer", "secretary", "registrar", "coordinator")
RESIDENTS = 8
VOTING_WINDOW_S = 12
CNY = b"CNY"


def demo_keys(path: Path) -> dict[str, LocalAccount]:
    """The demo's keys, created on first use (random; stored with the chain data)."""
    if path.exists():
        raw = json.loads(path.read_text())
    else:
        names = [*ROLES, *(f"resident{i}" for i in range(1, RESIDENTS + 1)), "contractor"]
        raw = {name: "0x" + secrets.token_hex(32) for name in names}
        atomic_write(path, json.dumps(raw, indent=2))
        path.chmod(0o600)
    return {name: Account.from_key(key) for name, key in raw.items()}


def _h(text: str) -> bytes:
    return Web3.keccak(text=text)


def seed_demo(
    client: ApiClient, keys: dict[str, LocalAccount], log: Callable[[str], None]
) -> dict[str, Any]:
    """Create the demo community; returns what was made (ids) for the caller to print."""
    c = client.contracts
    admin, chair, treasurer, secretary = (
        keys[k] for k in ("admin", "chair", "treasurer", "secretary")
    )
    registrar, coordinator = keys["registrar"], keys["coordinator"]
    residents = [keys[f"resident{i}"] for i in range(1, RESIDENTS + 1)]
    registry, council, fund, timebank = c["registry"], c["council"], c["fund"], c["timebank"]

    log("demo: creating the community and its roles")
    client.act(
        admin, registry.functions.createCommunity(_h("Riverside Estate residents' council (demo)"))
    )
    community = registry.functions.communityCount().call()
    for member in (chair, treasurer, secretary):
        client.forward(
            admin, registry.functions.grantRole(community, Roles.COMMITTEE, member.address)
        )
    client.forward(
        admin, registry.functions.grantRole(community, Roles.REGISTRAR, registrar.address)
    )
    last = client.forward(
        admin, registry.functions.grantRole(community, Roles.COORDINATOR, coordinator.address)
    )
    client.wait(last["id"])

    log(f"demo: publishing a roll of {len(residents) + 3} residents")
    roll = [m.address for m in (*residents, chair, treasurer, secretary)]
    client.act(registrar, registry.functions.updateRoll(community, roll, [], True))

    log("demo: opening three proposals")
    now = int(client.w3.eth.get_block("latest")["timestamp"])
    texts = {
        "playground": "Repair the playground's swings and resurface the ground under them. "
        "Budget: 5,000.00 CNY from the micro-renewal fund.",
        "fence": "Paint the estate's fence bright pink.",
        "garden": "Turn the unused lot behind building 3 into a community garden, "
        "tended by time-bank volunteers.",
    }
    for text in texts.values():
        client.post("/v1/texts", {"text": text})

    def params(key: str, closes: int, budget: int = 0) -> tuple[Any, ...]:
        return (
            community,
            bytes.fromhex(text_hash(texts[key])[2:]),
            0,
            3,
            now - 1,
            closes,
            3000,
            5000,
            budget,
            CNY if budget else b"\x00\x00\x00",
        )

    proposal_ids = {}
    for key, closes, budget in (
        ("playground", now + VOTING_WINDOW_S, 500_000),
        ("fence", now + VOTING_WINDOW_S, 0),
        ("garden", now + 7 * 86_400, 0),
    ):
        client.act(chair, council.functions.openProposal(params(key, closes, budget)))
        proposal_ids[key] = council.functions.proposalCount().call()

    log("demo: residents vote (signed ballots, relayed in batches)")
    votes = {
        "playground": [0, 0, 0, 0, 0, 0, 1, 2, 0],
        "fence": [1, 1, 1, 0, 1, 0, 1, 1],
        "garden": [0, 0, 2, 0],
    }
    voters = [*residents, chair]
    receipts = [
        client.ballot(voter, proposal_ids[key], option)
        for key, options in votes.items()
        for voter, option in zip(voters, options, strict=False)
    ]
    client.wait_all(receipts)

    log("demo: setting up the fund and the time bank")
    client.forward(admin, fund.functions.setCurrency(community, CNY))
    client.forward(admin, fund.functions.setApprovalThreshold(community, 2))
    last = client.forward(admin, timebank.functions.setLimits(community, -600, 6000))
    client.wait(last["id"])
    client.forward(
        treasurer,
        fund.functions.recordIncome(
            community, 0, 800_000, CNY, _h("district micro-renewal grant 2026")
        ),
    )
    last = client.forward(
        treasurer,
        fund.functions.recordIncome(community, 1, 120_000, CNY, _h("donations, spring fair")),
    )
    client.wait(last["id"])

    services = [
        ("resident1", "resident2", 90, "CARE", "walked resident2's dog for a week"),
        ("resident3", "resident1", 45, "REPAIR", "fixed resident1's bicycle"),
        ("resident2", "resident4", 60, "TEACH", "maths tutoring"),
    ]
    for nonce, (provider, recipient, minutes, category, note) in enumerate(services, start=1):
        record = ServiceRecord(
            keys[provider].address,
            keys[recipient].address,
            minutes,
            category_code(category),
            _h(note),
            nonce,
        )
        client.wait(client.service(community, record, keys[provider], keys[recipient])["id"])
    community_account = timebank.functions.COMMUNITY_ACCOUNT().call()
    record = ServiceRecord(
        keys["resident5"].address,
        community_account,
        120,
        category_code("GARDEN"),
        _h("cleared the garden lot"),
        1,
    )
    client.wait(client.service(community, record, keys["resident5"], coordinator)["id"])

    log("demo: waiting for two proposals to close, then finalizing them")
    closes = now + VOTING_WINDOW_S
    while int(client.w3.eth.get_block("latest")["timestamp"]) < closes:
        time.sleep(0.5)
        client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]  # let time show on-chain
    client.act(secretary, council.functions.finalize(proposal_ids["playground"]))
    client.act(secretary, council.functions.finalize(proposal_ids["fence"]))

    log("demo: a grant for the passed proposal, a payout approved by two members, a milestone")
    playground = proposal_ids["playground"]
    client.act(treasurer, fund.functions.openGrant(playground, 500_000))
    client.act(
        treasurer,
        fund.functions.requestPayout(
            playground,
            keys["contractor"].address,
            200_000,
            _h("first tranche: swings"),
            _h("invoice 2026-114"),
        ),
    )
    request_id = fund.functions.payoutCount().call()
    client.act(chair, fund.functions.approvePayout(request_id))
    client.act(secretary, fund.functions.approvePayout(request_id))
    client.act(chair, fund.functions.executePayout(request_id))
    client.act(
        secretary,
        council.functions.recordMilestone(playground, _h("photos: new swings installed"), False),
    )
    log(f"demo: community {community} ready (proposals {sorted(proposal_ids.values())})")
    return {"community": community, "proposals": proposal_ids, "payout": request_id}
