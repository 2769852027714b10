"""A secret vote in the browser (web/tests/secret.mjs, a 360 px phone, Chinese then English): a
2-of-3 vote whose trustees (played here with ledger.secret) dealt its key, which a resident
closes from the page; a resident encrypts a
choice in the page, checks that ballot (the page opens it with its randomness and shows the
choice, the ballot is spoiled), encrypts again and casts, and sees where it was counted; another
resident casts; someone not on the roll is refused in words; no result shows before the close;
a rogue relayer's copied ballot is challenged and voided; one trustee's partial decryption shows
no result; a second trustee decrypts, a resident records the count from the page, and the page shows it. Here: the vote, the key generation, the close, the challenge,
the tally, and the chain's side afterwards. Screenshots in test-artifacts/web-secret/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from commons.demo import bilingual
from ledger.node import rpc
from ledger.protocol.generated import Roles
from ledger.secret.trustee import question_hash, question_text
from tests.contract_wrappers.registry import RegistryContract
from tests.contract_wrappers.secret import (
    ANSWERS,
    SecretBallotContract,
    SecretVoteParams,
    Trustee,
)
from tests.e2e.browser import ARTIFACTS_ROOT, needs_browser, run_story
from tests.e2e.conftest import LiveSystem, new_accounts

ARTIFACTS = ARTIFACTS_ROOT / "web-secret"
ASKED = {"en": "Paint the hall green?", "zh": "把大厅刷成绿色吗"}
NAMES = {"en": ["Green", "Blue", "Leave it"], "zh": ["绿色", "蓝色", "保持原样"]}
QUESTION = bilingual(ASKED["en"], ASKED["zh"])
OPTIONS = [bilingual(en, zh) for en, zh in zip(NAMES["en"], NAMES["zh"], strict=True)]
# The first resident checks a ballot for CHECKED, then casts CHOSEN; the second casts SECOND.
CHECKED, CHOSEN, SECOND = 1, 1, 2


class ChainClock:
    """Moves the chain's time by mining a block with an explicit timestamp."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> None:
        rpc(self.w3, "evm_mine", [self.now() + seconds])

    def past(self, moment: int) -> None:
        if self.now() <= moment:
            rpc(self.w3, "evm_mine", [moment + 1])


def _open_vote(
    live: LiveSystem, accounts: list[LocalAccount], clock: ChainClock
) -> tuple[dict[str, Any], SecretVoteParams, list[Trustee]]:
    """A community whose committee opened a 2-of-3 secret vote, its question stored, its
    trustees' key generation played and left for anyone to close."""
    w3 = live.w3
    registry = RegistryContract(w3, live.deployment.registry)
    secret = SecretBallotContract(w3, live.deployment.secret)
    admin, committee = accounts[0], accounts[1]
    first, second, rogue, outsider = new_accounts(4)
    community = registry.create_community(admin, Web3.keccak(text="hall 7"))
    registry.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    registry.grant_role(admin, community, Roles.COMMITTEE, committee.address)
    registry.update_roll(admin, community, [a.address for a in (first, second, rogue)])
    live.client.post("/v1/texts", {"text": question_text(QUESTION, OPTIONS)})
    trustees = [Trustee(k, accounts[4 + k], 2) for k in (1, 2, 3)]
    params = SecretVoteParams(
        community,
        tuple(t.account.address for t in trustees),
        2,
        clock.now(),
        option_count=len(OPTIONS),
        question_hash=question_hash(QUESTION, OPTIONS),
    )
    vote_id = secret.open_vote(committee, params)
    # The trustees' steps, but not the closing: a resident closes the key generation in the page.
    secret.play_key_generation(vote_id, trustees, clock)
    clock.past(params.start + ANSWERS)
    live.client.wait_indexed(w3.eth.block_number)
    seed = {
        "community": community,
        "vote": vote_id,
        "question": ASKED,
        "options": NAMES,
        "checked": CHECKED,
        "chosen": CHOSEN,
        "second": SECOND,
        "first": {"key": first.key.hex(), "address": first.address},
        "secondVoter": {"key": second.key.hex(), "address": second.address},
        "rogue": {"key": rogue.key.hex(), "address": rogue.address},
        "outsider": {"key": outsider.key.hex(), "address": outsider.address},
        # Trustee 2, who has not decrypted when the page is read as theirs.
        "trustee": {"key": trustees[1].account.key.hex(), "address": trustees[1].account.address},
    }
    return seed, params, trustees


@needs_browser
def test_a_resident_checks_one_ballot_casts_another_and_the_page_shows_the_finalized_tally(
    served: LiveSystem, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    live = served
    clock = ChainClock(live.w3)
    seed, params, trustees = _open_vote(live, accounts, clock)
    assert seed["community"] == 1, "the page opens on community 1"
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    secret = SecretBallotContract(live.w3, live.deployment.secret)
    vote_id = seed["vote"]
    rogue_words: list[int] = []
    rogue_batch: list[Any] = []

    def close(_: dict[str, Any]) -> None:
        # A rogue relayer lands a copy of another voter's ballot, whose proof is not the rogue's.
        copied = secret.ballot_words(vote_id, seed["first"]["address"], 0)
        rogue_account: LocalAccount = Account.from_key(seed["rogue"]["key"])
        batch = secret.cast(accounts[9], vote_id, [secret.sign(rogue_account, vote_id, copied)])
        assert batch.cast == (rogue_account.address,)
        rogue_words[:] = copied
        rogue_batch[:] = [batch]
        clock.past(params.closes_at)
        live.client.wait_indexed(live.w3.eth.block_number)

    def challenge(_: dict[str, Any]) -> None:
        secret.challenge(
            accounts[1], vote_id, rogue_batch[0], seed["rogue"]["address"], rogue_words
        )
        live.client.wait_indexed(live.w3.eth.block_number)

    def decrypt_one(_: dict[str, Any]) -> None:
        clock.past(params.challenges_until)
        receipt = secret.publish(vote_id, trustees[0])
        live.client.wait_indexed(int(receipt["blockNumber"]))

    def decrypt_two(_: dict[str, Any]) -> None:
        # The second part makes t: the page's "record the count" finds and records the tally.
        receipt = secret.publish(vote_id, trustees[1])
        live.client.wait_indexed(int(receipt["blockNumber"]))

    result = run_story(
        "secret.mjs",
        live.url,
        ARTIFACTS,
        {
            "close": close,
            "challenge": challenge,
            "decrypt-one": decrypt_one,
            "decrypt-two": decrypt_two,
        },
        seed=seed_file,
    )

    # The chain agrees with what the page showed: the residents' choices counted, the copy
    # voided, and the tally the page recorded (nothing here finalizes the vote).
    view = secret.vote(vote_id)
    expected = [0] * len(OPTIONS)
    for choice in (CHOSEN, SECOND):
        expected[choice] += 1
    assert list(view.tally) == expected
    assert int(view.ballotCount) == 2
    for voter in (seed["first"]["address"], seed["secondVoter"]["address"]):
        counted = live.client.get(f"/v1/secret-votes/{vote_id}/ballots/{voter}")
        assert counted["voted"] and not counted["voided"]
    assert live.client.get(f"/v1/secret-votes/{vote_id}/ballots/{seed['rogue']['address']}")[
        "voided"
    ]
    # One ballot went to the API per resident (and the outsider's): the checked one never did.
    assert result["state"]["posted"] == 3
    assert result["state"]["spoiledHash"] not in result["state"]["postedHashes"]
    assert not secret.contract.functions.hasVotedSecretly(
        vote_id, seed["outsider"]["address"]
    ).call()
    assert {"secret-vote-zh-360", "secret-checked-zh-360", "secret-tally-en-360"} <= set(
        result["a11y"]
    )
