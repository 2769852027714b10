"""The proxy audit: mandates and proxy ballots made for real on the demo history must audit clean
(overrides and skips included), and the rules fed events no honest contract emits must be named."""

from __future__ import annotations

from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.audit import mandates as audit_mandates
from ledger.audit import recount
from ledger.audit.chain import Call
from ledger.audit.context import Ctx
from ledger.audit.fetch import Log
from ledger.audit.state import AuditState, Community, Member, Proposal
from ledger.hashing import checksum_address, keccak
from ledger.protocol.generated import MandateScope, ProxyBallotSkipReason
from ledger.signing.ballots import BallotDomain, make_ballot, sign_ballot
from ledger.signing.mandates import (
    MandateDomain,
    Revocation,
    make_mandate,
    make_proxy_ballot,
    mandate_call_arg,
    proxy_ballot_call_arg,
    proxy_ballot_digest,
    revocation_call_arg,
    sign_mandate,
    sign_proxy_ballot,
    sign_revocation,
)
from ledger.tx import send
from tests.audit.conftest import History

# ---------------------------------------------------------------- live: an honest history


def test_mandates_proxy_ballots_and_an_override_audit_clean(
    fresh: History, accounts: list[LocalAccount]
) -> None:
    w3, keys, c = fresh.w3, fresh.keys, fresh.live.deployment
    sender = accounts[0]  # any relayer
    cid, garden = fresh.community, int(fresh.made["proposals"]["garden"])
    chain = int(w3.eth.chain_id)
    mdomain = MandateDomain(chain, c.mandates.address)
    bdomain = BallotDomain(chain, c.council.address)
    r1, r2, r7, r8 = (keys[f"resident{i}"] for i in (1, 2, 7, 8))

    def mandate(resident: LocalAccount, scope: MandateScope, vote: int) -> tuple[Any, ...]:
        nonce = c.mandates.functions.nonceOf(resident.address).call()
        m = make_mandate(cid, resident.address, r1.address, scope, vote, nonce)
        return mandate_call_arg(m, sign_mandate(resident, m, mdomain))

    appoint = [
        mandate(r7, MandateScope.AllVotes, 0),
        mandate(r8, MandateScope.Proposal, garden),
        mandate(r2, MandateScope.AllVotes, 0),  # over the limit of two: skipped
    ]
    send(w3, sender, c.mandates.functions.appoint(appoint))
    ballots = []
    for voter, option in ((r7, 1), (r8, 0), (r2, 0)):  # r2's: no mandate, skipped
        b = make_proxy_ballot(garden, voter.address, r1.address, option)
        ballots.append(proxy_ballot_call_arg(b, sign_proxy_ballot(r1, b, bdomain)))
    send(w3, sender, c.council.functions.castProxyBallots(garden, ballots))
    own = sign_ballot(r7, make_ballot(garden, r7.address, 2), bdomain)
    send(w3, sender, c.council.functions.castBallots(garden, [own.call_arg()]))
    revocation = Revocation(cid, r8.address, c.mandates.functions.nonceOf(r8.address).call())
    signed = sign_revocation(r8, revocation, mdomain)
    send(w3, sender, c.mandates.functions.revoke([revocation_call_arg(revocation, signed)]))
    assert c.council.functions.proxyBallotCount(garden).call() == 1

    result = fresh.audit()
    assert result.ok, result.findings
    assert result.warnings == []
    (report,) = [p for p in result.report["proposals"] if p["id"] == garden]
    assert report["ballots"]["by_proxy"] == 1 and report["ballots"]["proxy_overridden"] == 1
    assert report["recount_tally"] == report["onchain_tally"]


# ---------------------------------------------------------------- the rules, fed by hand

COUNCIL, MANDATES = b"\xc0" * 20, b"\x3a" * 20
CID, PID, CHAIN = 1, 1, 31337
PEOPLE = [Account.from_key(keccak(f"audit-proxies-{i}".encode())) for i in range(4)]
OPENS, CLOSES = 1000, 1000 + 3600


def _raw(account: LocalAccount) -> bytes:
    return bytes.fromhex(account.address[2:])


def _ctx() -> Ctx:
    state = AuditState(next_block=0)
    community = Community(CID, b"\xaa" * 20, roll_version=1, roll_size=len(PEOPLE))
    for i, person in enumerate(PEOPLE):
        community.members[_raw(person)] = Member(i, [[1, 0]])
    state.communities[CID] = community
    state.proposals[PID] = Proposal(
        PID, CID, b"\xbb" * 20, b"\x01" * 32, 0, 3, OPENS, CLOSES, 0, 5000, 0, b"\0\0\0", 1, 4,
        1, "0x", tally=[0, 0, 0], event_tally=[0, 0, 0],
    )  # fmt: skip
    return Ctx(
        state=state,
        chain_id=CHAIN,
        contracts={"council": COUNCIL, "mandates": MANDATES, "timebank": b"\x7b" * 20},
        abis={},
        verifier=cast(Any, None),
        in_range=lambda _: True,
        error_names={},
    )


def _call(logs: list[Log], target: bytes = COUNCIL) -> Call:
    return Call(5, OPENS + 1, "0x" + "22" * 32, 0, b"\x99" * 20, target, b"", logs, "tx")


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _proxy_entry(voter: LocalAccount, proxy: LocalAccount, option: int) -> dict[str, Any]:
    domain = BallotDomain(CHAIN, checksum_address(COUNCIL))
    b = make_proxy_ballot(PID, voter.address, proxy.address, option)
    _, _, _, r, vs = proxy_ballot_call_arg(b, sign_proxy_ballot(proxy, b, domain))
    return {"voter": voter.address, "proxy": proxy.address, "option": option, "r": r, "vs": vs}


def _proxy_cast(ctx: Ctx, voter: LocalAccount, proxy: LocalAccount, option: int) -> Log:
    b = make_proxy_ballot(PID, voter.address, proxy.address, option)
    digest = proxy_ballot_digest(ctx.council_domain, b)
    topics = [audit_mandates.PROXY_CAST, _word(PID), _raw(voter).rjust(32, b"\0"),
              _raw(proxy).rjust(32, b"\0")]  # fmt: skip
    return Log(COUNCIL, topics, _word(option) + digest, 0)


def _proxy_skipped(voter: LocalAccount, proxy: LocalAccount, reason: int) -> Log:
    topics = [audit_mandates.PROXY_SKIPPED, _word(PID), _raw(voter).rjust(32, b"\0"),
              _raw(proxy).rjust(32, b"\0")]  # fmt: skip
    return Log(COUNCIL, topics, _word(reason), 0)


def _cast_proxy(ctx: Ctx, entries: list[dict[str, Any]], logs: list[Log]) -> None:
    args = {"proposalId": PID, "ballots": entries}
    audit_mandates.cast_proxy_ballots(ctx, _call(logs), "castProxyBallots", args)


def _give(
    ctx: Ctx, resident: LocalAccount, proxy: LocalAccount, scope: int = 0, vote: int = 0
) -> None:
    ctx.state.mandates[(CID, _raw(resident))] = (_raw(proxy), scope, vote)


def _rules(ctx: Ctx) -> list[str]:
    return [f.rule for f in ctx.findings]


def test_an_honest_proxy_batch_with_a_skip_audits_clean() -> None:
    ctx = _ctx()
    a, proxy, b = PEOPLE[0], PEOPLE[1], PEOPLE[2]
    _give(ctx, a, proxy)
    _cast_proxy(
        ctx,
        [_proxy_entry(a, proxy, 1), _proxy_entry(b, proxy, 0)],
        [_proxy_cast(ctx, a, proxy, 1), _proxy_skipped(b, proxy, ProxyBallotSkipReason.NoMandate)],
    )
    assert ctx.findings == []
    assert ctx.state.proposals[PID].tally == [0, 1, 0]


def test_a_proxy_ballot_counted_without_a_mandate_is_named() -> None:
    ctx = _ctx()
    a, proxy = PEOPLE[0], PEOPLE[1]
    _cast_proxy(ctx, [_proxy_entry(a, proxy, 1)], [_proxy_cast(ctx, a, proxy, 1)])
    assert _rules(ctx) == ["council.proxy_ballot"]


def test_a_mandate_for_another_proposal_counted_here_is_named() -> None:
    ctx = _ctx()
    a, proxy = PEOPLE[0], PEOPLE[1]
    _give(ctx, a, proxy, MandateScope.Proposal, PID + 1)
    _cast_proxy(ctx, [_proxy_entry(a, proxy, 1)], [_proxy_cast(ctx, a, proxy, 1)])
    assert _rules(ctx) == ["council.proxy_ballot"]


def test_a_proxy_ballot_counted_after_the_residents_own_is_named() -> None:
    ctx = _ctx()
    a, proxy = PEOPLE[0], PEOPLE[1]
    _give(ctx, a, proxy)
    ctx.state.proposals[PID].voted.add(_raw(a))
    _cast_proxy(ctx, [_proxy_entry(a, proxy, 1)], [_proxy_cast(ctx, a, proxy, 1)])
    assert _rules(ctx) == ["council.proxy_ballot"]


def test_a_proxy_over_the_limit_on_one_proposal_is_named() -> None:
    ctx = _ctx()
    proxy, voters = PEOPLE[0], PEOPLE[1:4]
    for v in voters:
        _give(ctx, v, proxy)
    entries = [_proxy_entry(v, proxy, 0) for v in voters]
    _cast_proxy(ctx, entries, [_proxy_cast(ctx, v, proxy, 0) for v in voters])
    assert _rules(ctx) == ["council.proxy_ballot"]


def test_a_chained_proxy_is_named() -> None:
    ctx = _ctx()
    a, proxy, proxys_proxy = PEOPLE[0], PEOPLE[1], PEOPLE[2]
    _give(ctx, a, proxy)
    _give(ctx, proxy, proxys_proxy)
    _cast_proxy(ctx, [_proxy_entry(a, proxys_proxy, 1)], [_proxy_cast(ctx, a, proxys_proxy, 1)])
    assert _rules(ctx) == ["council.proxy_ballot"]


def test_an_own_ballot_that_does_not_override_the_proxy_ballot_is_named() -> None:
    ctx = _ctx()
    a, proxy = PEOPLE[0], PEOPLE[1]
    _give(ctx, a, proxy)
    _cast_proxy(ctx, [_proxy_entry(a, proxy, 1)], [_proxy_cast(ctx, a, proxy, 1)])
    cast_log = Log(
        COUNCIL,
        [recount.BALLOT_CAST, _word(PID), _raw(a).rjust(32, b"\0")],
        _word(0) + bytes(32),
        0,
    )
    # A direct vote whose only event is BallotCast: the override event is missing.
    call = Call(6, OPENS + 2, "0x" + "33" * 32, 0, _raw(a), COUNCIL, b"", [cast_log], "tx")
    recount.cast_vote(ctx, call, "castVote", {"proposalId": PID, "option": 0})
    assert "council.proxy_override" in _rules(ctx)
    assert ctx.state.proposals[PID].tally == [1, 0, 0]


def test_an_appointment_over_the_limit_counted_is_named() -> None:
    ctx = _ctx()
    proxy = PEOPLE[0]
    _give(ctx, PEOPLE[1], proxy)
    _give(ctx, PEOPLE[2], proxy)
    resident = PEOPLE[3]
    m = make_mandate(CID, resident.address, proxy.address, MandateScope.AllVotes, 0, 0)
    domain = MandateDomain(CHAIN, checksum_address(MANDATES))
    fields = mandate_call_arg(m, sign_mandate(resident, m, domain))
    names = ("communityId", "resident", "proxy", "scope", "voteId", "nonce", "r", "vs")
    topics = [audit_mandates.APPOINTED, _word(CID), _raw(resident).rjust(32, b"\0"),
              _raw(proxy).rjust(32, b"\0")]  # fmt: skip
    logs = [Log(MANDATES, topics, _word(0) * 3, 0)]
    args = {"mandates": [dict(zip(names, fields, strict=True))]}
    audit_mandates.appoint(ctx, _call(logs, MANDATES), "appoint", args)
    assert _rules(ctx) == ["mandate.judgement"]
