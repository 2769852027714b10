"""`brownie run scripts/open_proposal.py main COMMUNITY TEXT_FILE [OPTIONS] [PERIOD] [QUORUM]
[THRESHOLD] [SIGNER]`: open a council proposal on the text in TEXT_FILE (stored first through
the configured API's /v1/texts), as `commons proposal open` does. OPTIONS is "yes-no" (the
default) or a number of choices; PERIOD as 7d, 12h, 30m; QUORUM and THRESHOLD in percent.
COMMITTEE only: SIGNER is the member's brownie account or key file."""

from __future__ import annotations

from ledger import proposal_acts
from ledger.admin import AdminChain, AdminRefused, RelayApi
from scripts.admin_acts import api_url, connected, one_line_errors, read_text, run_act


def main(
    community: str,
    text_file: str,
    options: str = "yes-no",
    period: str = "7d",
    quorum: str = "30",
    threshold: str = "50",
    signer: str = "0",
) -> None:
    with one_line_errors():
        if options != "yes-no" and not options.isdigit():
            raise AdminRefused(f"OPTIONS is yes-no or a number of choices, not {options!r}")
        draft = proposal_acts.draft(
            int(community),
            read_text(text_file),
            multi=None if options == "yes-no" else int(options),
            period=period,
            quorum_percent=quorum,
            threshold_percent=threshold,
        )
        chain, settings = connected()
        proposal_acts.check_draft(chain, draft)
        now = int(chain.w3.eth.get_block("latest")["timestamp"])

    def store(_: AdminChain) -> None:
        proposal_acts.store_text(RelayApi(api_url(settings)), draft)

    done = run_act(proposal_acts.open_proposal(draft, now), signer, prepare=store)
    print(f"proposal {done.event['proposalId']} opened in community {community}")
