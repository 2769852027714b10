// The poll officer's screen: a resident who came to the polling place is found on the roll by
// name or by their QR code (the person picker), their choices are entered by tapping candidates,
// and the officer signs the in-person ballot (EIP-712 InPersonBallot, domain CommonsPollOffice)
// with their own key; the relay checks the officer's role and the election's rules and submits
// it through the PollOffice. The election's counts by channel are shown above.

import { getAddress, type TypedDataField, type Wallet } from "ethers";
import { api } from "../api";
import { chain } from "../chain";
import { encodeApproval, encodeRanking } from "../election_ballots";
import { h, replace } from "../dom";
import { keptChoices, type DraftEvent } from "../drafts";
import { t } from "../i18n";
import { personPicker } from "../people";
import { DOMAINS, EIP712_FIELDS } from "../protocol";
import type { ElectionOut, ReceiptOut } from "../schemas";
import { boxTotalsPanel, channelCounts } from "../paper_boxes";
import { communityId } from "../state";
import { act, field, relayed, requireWallet, statusLine, waitIndexed } from "../ui";

const IN_PERSON_TYPES: Record<string, TypedDataField[]> = { InPersonBallot: EIP712_FIELDS.InPersonBallot };
async function recordInPerson(officer: Wallet, electionId: number, voter: string, choices: bigint): Promise<ReceiptOut> {
  const c = await chain();
  const domain = { ...DOMAINS.PollOffice, chainId: c.chainId, verifyingContract: c.addresses.poll_office };
  const who = getAddress(officer.address);
  const message = { electionId, voter, choices, officer: who };
  const signature = await officer.signTypedData(domain, IN_PERSON_TYPES, message);
  // Written by hand: a ranking's choices are often past 2^53, where a JSON number loses digits.
  const rawJson = `{"electionId":${electionId},"voter":"${voter}","choices":${choices.toString()},"officer":"${who}","signature":"${signature}"}`;
  return api<ReceiptOut>("/v1/in-person-ballots", { rawJson });
}

function counts(e: ElectionOut): HTMLElement {
  return h(
    "p",
    { "data-testid": "poll-counts", "data-online": e.onlineCount, "data-in-person": e.inPersonCount, "data-paper": e.paperCount },
    t("poll.counts", { total: e.ballotCount, channels: channelCounts(e) }),
  );
}

/** The ballot form for election `e`: the resident, their choices, the officer's signature. */
function ballotForm(cid: number, e: ElectionOut, refresh: () => Promise<void>): HTMLElement {
  const ranked = e.kind === "Ranked";
  const voter = personPicker(cid, t("poll.voter"), "poll-voter");
  let chosen: number[] = [];
  // The choices so far ride on `data-draft`, so a language or text-size toggle keeps them (drafts.ts).
  const shown = h("p", { class: "poll-choices", "aria-live": "polite", "data-testid": "poll-choices", "data-draft": "" });
  shown.addEventListener("draft", () => {
    const kept = keptChoices(shown.dataset.draft ?? "", e.candidates.length);
    if (kept === null) return;
    chosen = kept;
    show();
  });
  const show = (): void => {
    shown.dataset.draft = chosen.join(",");
    replace(shown, chosen.length ? chosen.map((c) => t("poll.candidate", { n: c + 1 })).join(ranked ? " > " : ", ") : t("poll.nothing"));
  };
  const buttons = e.candidates.map((_, c) =>
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        "data-testid": `poll-candidate-${c}`,
        onclick: () => {
          if (chosen.includes(c)) chosen = ranked ? chosen : chosen.filter((x) => x !== c);
          else chosen = [...chosen, c];
          show();
        },
      },
      t("poll.candidate", { n: c + 1 }),
    ),
  );
  const clear = h("button", { type: "button", class: "secondary small", "data-testid": "poll-clear", onclick: () => ((chosen = []), show()) }, t("poll.clear"));
  show();
  const line = statusLine("poll-status");
  const submit = h("button", { type: "submit", "data-testid": "poll-submit" }, t("poll.sign"));
  return h(
    "form",
    {
      class: "panel",
      "data-testid": "poll-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(submit, line, async () => {
          const who = voter.value();
          if (!who) throw new RangeError(t("poll.noVoter"));
          if (!chosen.length) throw new RangeError(t("poll.noChoice"));
          if (chosen.length > e.maxChoices) throw new RangeError(t("poll.tooMany", { max: e.maxChoices }));
          const officer = await requireWallet();
          const choices = ranked ? encodeRanking(chosen) : encodeApproval(chosen);
          line.textContent = t("poll.recording");
          const done = await relayed(line, () => recordInPerson(officer, e.electionId, who, choices));
          await waitIndexed(done.block);
          chosen = [];
          show();
          line.dataset.status = "recorded";
          await refresh();
          return t("poll.recorded");
        });
      },
    },
    voter.element,
    field(ranked ? t("poll.ranking") : t("poll.approval"), h("div", { class: "row", role: "group" }, ...buttons)),
    shown,
    h("div", { class: "row" }, clear, submit),
    line,
  );
}

/** The polling place: pick an election, then record in-person ballots for it. */
export async function pollView(): Promise<HTMLElement> {
  const cid = communityId();
  const number = h("input", { type: "number", min: "1", inputmode: "numeric", "data-testid": "poll-election" });
  const line = statusLine("poll-load-status");
  const load = h("button", { type: "submit", "data-testid": "poll-load" }, t("poll.load"));
  // The election loaded rides on `data-draft`: a language or text-size toggle loads it again, then
  // gives back the officer's half-recorded ballot (drafts.ts).
  const body = h("div", { "data-testid": "poll-election-body", "data-draft": "" });
  body.addEventListener("draft", (event: Event) => {
    const id = Number(body.dataset.draft);
    if (!Number.isInteger(id) || id < 1) return;
    void act(load, line, async () => {
      await open(id);
      (event as CustomEvent<DraftEvent>).detail.resume();
      return "";
    });
  });
  async function open(id: number): Promise<void> {
    const e = await api<ElectionOut>(`/v1/elections/${id}`);
    body.dataset.draft = String(id);
    const head = h("div", null, h("p", null, t("poll.state", { state: e.state, kind: t(`poll.kind.${e.kind}`), candidates: e.candidates.length, max: e.maxChoices })), counts(e));
    const refresh = async (): Promise<void> => {
      const now = await api<ElectionOut>(`/v1/elections/${id}`);
      head.replaceChild(counts(now), head.lastChild as Node);
    };
    if (e.state !== "Open") return replace(body, head, h("p", { class: "hint" }, t("poll.notOpen")));
    replace(body, head, ballotForm(cid, e, refresh), await boxTotalsPanel(e, refresh));
  }
  return h(
    "section",
    null,
    h("h1", { tabindex: "-1" }, t("poll.heading")),
    h("p", { class: "hint" }, t("poll.intro")),
    h(
      "form",
      {
        class: "panel",
        onsubmit: (event: Event) => {
          event.preventDefault();
          void act(load, line, async () => {
            const id = Number(number.value);
            if (!Number.isInteger(id) || id < 1) throw new RangeError(t("poll.election"));
            await open(id);
            return "";
          });
        },
      },
      field(t("poll.election"), number),
      h("div", { class: "row" }, load),
      line,
    ),
    body,
  );
}
