"""Each trustee's steps read from a vote's events: counted by the argument that names the
trustee, a disqualification by its reason's name, and said in one line."""

from __future__ import annotations

from ledger.protocol.generated import SecretDisqualifyReason
from ledger.secret.progress import TrusteeProgress, describe, trustee_progress

TRUSTEES = ["0x" + f"{k:040x}" for k in (1, 2, 3)]


def test_each_trustees_steps_come_from_the_events_that_name_them() -> None:
    events = {
        "CommunicationKeyRegistered": [{"trustee": 1}, {"trustee": 2}],
        "SharesDealt": [{"dealer": 1}, {"dealer": 2}],
        "DealComplained": [{"dealer": 2, "accuser": 1}, {"dealer": 2, "accuser": 3}],
        "ComplaintAnswered": [{"dealer": 2, "accuser": 1}],
        "TrusteeDisqualified": [{"trustee": 3, "reason": int(SecretDisqualifyReason.NoKey)}],
        "PartialDecryptionPublished": [{"trustee": 1}],
    }
    one, two, three = trustee_progress(TRUSTEES, events)
    assert one == TrusteeProgress(1, TRUSTEES[0], True, True, 0, 0, None, True)
    assert (two.complaints_against, two.complaints_answered, two.published_partial) == (2, 1, False)
    assert (three.key_registered, three.disqualified) == (False, "NoKey")
    assert describe(one) == (
        f"trustee 1 {TRUSTEES[0]}: key registered, shares dealt, decryption part published"
    )
    assert describe(two).endswith("key registered, shares dealt, 2 complaints, 1 answered")
    assert describe(three) == f"trustee 3 {TRUSTEES[2]}: disqualified (NoKey)"


def test_a_vote_with_no_events_yet_has_every_step_to_come() -> None:
    steps = trustee_progress(TRUSTEES, {})
    assert [describe(p).split(": ")[1] for p in steps] == ["no key yet, no shares dealt yet"] * 3
