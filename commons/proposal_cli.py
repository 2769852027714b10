"""`commons proposal`: a committee member opens a council proposal from the keystore key, and
anyone publishes its result once voting has closed; through the API's relay (gasless) or as a
direct transaction, each checked and simulated first like every `commons admin` act.

The text comes from a file or stdin and is stored through the API's /v1/texts before the
proposal is signed; the proposal commits to its keccak256. A proposal decided by secret ballot
(--secret-vote) takes its text, options and times from that vote, and is linked to it at once;
`commons proposal link` makes that link again if it failed, while the proposal has not opened.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from commons.acts import Signing, signed_act
from commons.errors import one_line_errors
from ledger import proposal_acts
from ledger.admin import AdminRefused, RelayApi
from ledger.protocol.generated import Outcome

proposal_app = typer.Typer(
    name="proposal",
    help="Council proposals: open one (a committee member's key) and publish its result after "
    "voting closes. Each is checked and simulated before it is signed with --key (a name in the "
    "keystore, `commons key list`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Kind(StrEnum):
    yes_no = "yes-no"
    multi = "multi"


def read_text(source: Path) -> str:
    """The proposal's text from a file, or from stdin for `-`."""
    if str(source) == "-":
        return sys.stdin.read()
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdminRefused(f"cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AdminRefused(f"{source} is not UTF-8 text") from None


@proposal_app.command("open")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def open_proposal(
    signing: Signing,
    community: Annotated[int, typer.Option("--community", metavar="ID", help="the community")],
    text: Annotated[
        Path | None,
        typer.Option(
            "--text",
            metavar="FILE",
            help="the proposal's full text (UTF-8), or - for stdin; stored through the API, "
            "its keccak256 recorded on-chain (not with --secret-vote)",
        ),
    ] = None,
    secret_vote: Annotated[
        int | None,
        typer.Option(
            "--secret-vote",
            metavar="VOTE",
            help="decide it by this secret vote (`commons secret open`): its question and "
            "options are the text, its window the voting period; linked once opened",
        ),
    ] = None,
    kind: Annotated[
        Kind,
        typer.Option("--kind", help="yes-no: yes / no / abstain; multi: --options choices"),
    ] = Kind.yes_no,
    options: Annotated[
        int | None,
        typer.Option("--options", metavar="N", help="how many choices a multi proposal offers"),
    ] = None,
    period: Annotated[
        str,
        typer.Option(
            "--period", metavar="PERIOD", help="how long voting lasts: 7d, 12h, 30m or 90s"
        ),
    ] = "7d",
    quorum: Annotated[
        str,
        typer.Option("--quorum", metavar="PERCENT", help="turnout needed, % of the roll (0-100)"),
    ] = "30",
    threshold: Annotated[
        str,
        typer.Option(
            "--threshold",
            metavar="PERCENT",
            help="share to exceed, % (yes of yes+no; a multi choice, of all ballots)",
        ),
    ] = "50",
    budget: Annotated[
        str | None,
        typer.Option("--budget", metavar="AMOUNT", help="a budget asked for, e.g. 1200.50"),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", metavar="CODE", help="the budget's, e.g. CNY")
    ] = None,
) -> None:
    """Open a proposal residents vote on. COMMITTEE only: --key is the member's key.

    It opens at once; its voters are the community's roll as published now. With
    --secret-vote it opens when that vote's ballots do, and its ballots are that vote's."""
    if kind is Kind.yes_no and options not in (None, proposal_acts.YES_NO_OPTIONS):
        raise AdminRefused("a yes-no proposal has its three options (yes, no, abstain)")
    if (text is None) == (secret_vote is None):
        raise AdminRefused("give the proposal's --text, or the --secret-vote that decides it")
    chain = signing.chain()
    terms: proposal_acts.SecretVoteTerms | None = None
    if text is not None:
        body = read_text(text)
    else:
        terms = proposal_acts.secret_vote_terms(chain, secret_vote or 0)
        body = proposal_acts.secret_vote_text(RelayApi(signing.api), terms)
        if kind is Kind.multi and options is None:
            options = terms.options
    if kind is Kind.multi and options is None:
        raise AdminRefused("a multi proposal needs --options N")
    draft = proposal_acts.draft(
        community,
        body,
        multi=options if kind is Kind.multi else None,
        period=period,
        quorum_percent=quorum,
        threshold_percent=threshold,
        budget=budget,
        currency=currency,
        secret=terms,
    )
    proposal_acts.check_draft(chain, draft)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    if terms is not None:
        proposal_acts.check_link_time(terms, now)
    call = proposal_acts.open_proposal(draft, now)
    done = signing.act(
        call, chain=chain, prepare=lambda: proposal_acts.store_text(RelayApi(signing.api), draft)
    )
    if signing.dry_run:
        typer.echo(f"text: {len(draft.text)} characters, not stored")
    if done is None:
        return
    proposal_id = int(done.event["proposalId"])
    typer.echo(f"proposal {proposal_id} opened in community {community}")
    if terms is not None:
        link = proposal_acts.link_secret_vote(community, proposal_id, terms.vote_id)
        try:
            signing.act(link, chain=chain)
        except Exception as failed:
            # Opened but not linked: its ballots would go nowhere until the link is made.
            raise AdminRefused(
                f"proposal {proposal_id} opened, but linking secret vote {terms.vote_id} failed "
                f"({failed}); link it before it opens with `commons proposal link {proposal_id} "
                f"--secret-vote {terms.vote_id} --key {signing.key}`"
            ) from failed
        typer.echo(f"proposal {proposal_id} is decided by secret vote {terms.vote_id}")


@proposal_app.command("link")
@one_line_errors(interrupted="interrupted; the link may or may not have landed: run it again")
@signed_act
def link(
    signing: Signing,
    proposal: Annotated[int, typer.Argument(metavar="ID", help="the secret-ballot proposal")],
    secret_vote: Annotated[
        int,
        typer.Option("--secret-vote", metavar="VOTE", help="the secret vote that decides it"),
    ],
) -> None:
    """Link a secret-ballot proposal to the secret vote that decides it, when `open
    --secret-vote` opened it but could not link it. COMMITTEE only, and only before the
    proposal opens: the vote's community, question, options and window must be the proposal's."""
    chain = signing.chain()
    if signing.act(proposal_acts.link_to_secret_vote(chain, proposal, secret_vote), chain=chain):
        typer.echo(f"proposal {proposal} is decided by secret vote {secret_vote}")


@proposal_app.command("publish")
@one_line_errors(interrupted="interrupted; nothing was sent")
@signed_act
def publish(
    signing: Signing,
    proposal: Annotated[int, typer.Argument(metavar="ID", help="the proposal")],
) -> None:
    """Publish a proposal's result once voting has closed: the contract counts the ballots and
    records passed, rejected or no quorum. A secret-ballot proposal waits for its secret vote's
    tally; if the trustees publish none within 30 days of the vote's challenge window, it is
    published as not decided (TallyNeverPublished). Anyone may."""
    chain = signing.chain()
    done = signing.act(proposal_acts.publish_result(chain, proposal), chain=chain)
    if done is not None:
        outcome = Outcome(done.event["outcome"])
        if outcome is Outcome.TallyNeverPublished:
            typer.echo(
                f"proposal {proposal}: {outcome.name} (its secret vote's trustees published no "
                "tally: the proposal is not decided)"
            )
            return
        tally = ", ".join(str(n) for n in done.event["tally"])
        typer.echo(f"proposal {proposal}: {outcome.name} (ballots per option: {tally})")
