// Paper ballot boxes on the page: an election's ballots by channel ("online 812 · in person 95 ·
// paper box A 140"), and the poll officers' box totals screen. After a box is counted by hand,
// one officer enters the count of each ballot pattern (tapping candidates, as for an in-person
// ballot) and the hash of the closure certificate's photo, and signs (EIP-712 BoxTotals, domain
// CommonsPollOffice); a second officer sees those totals, read back from the chain, and confirms
// them by signing the same, or enters and signs their own. Two different officers' signatures of
// the same totals make the box count.

import { getAddress, type TypedDataField, type Wallet } from "ethers";
import { api } from "./api";
import { bytesHash, chain } from "./chain";
import { encodeApproval, encodeRanking } from "./election_ballots";
import { h, replace } from "./dom";
import { t } from "./i18n";
import { DOMAINS, EIP712_FIELDS } from "./protocol";
import type { BoxSignatureOut, ElectionOut, PaperBoxOut, ReceiptOut } from "./schemas";
import { act, field, mono, relayed, requireWallet, statusLine, waitIndexed } from "./ui";

type Entry = { choices: bigint; count: number };

/** The election's counted ballots by channel, in words. */
export function channelCounts(e: ElectionOut): string {
  const parts = [t("paper.online", { n: e.onlineCount }), t("paper.inPerson", { n: e.inPersonCount })];
  for (const b of e.boxCounts) parts.push(t("paper.box", { label: b.label ?? `#${b.boxId}`, n: b.ballots }));
  // A channel of its own: a proxy ballot is counted apart from the online ones.
  if (e.proxyCount > 0) parts.push(t("eproxy.channel", { n: e.proxyCount }));
  return parts.join(" · ");
}

const BOX_TYPES: Record<string, TypedDataField[]> = { BoxTotals: EIP712_FIELDS.BoxTotals };
async function signTotals(officer: Wallet, boxId: number, entries: Entry[], certificateHash: string): Promise<ReceiptOut> {
  const c = await chain();
  const domain = { ...DOMAINS.PollOffice, chainId: c.chainId, verifyingContract: c.addresses.poll_office };
  const who = getAddress(officer.address);
  const choices = entries.map((x) => x.choices);
  const counts = entries.map((x) => x.count);
  const message = { boxId, choices, counts, certificateHash, officer: who };
  const signature = await officer.signTypedData(domain, BOX_TYPES, message);
  // Written by hand: a ranking's choices are often past 2^53, where a JSON number loses digits.
  const rawJson = `{"boxId":${boxId},"choices":[${choices.map((x) => x.toString()).join(",")}],"counts":[${counts.join(",")}],"certificateHash":"${certificateHash}","officer":"${who}","signature":"${signature}"}`;
  return api<ReceiptOut>("/v1/box-totals", { rawJson });
}

/** A ballot pattern in words: "3 > 1" (ranked) or "1, 3" (approval). */
function patternText(e: ElectionOut, choices: bigint): string {
  const picked: number[] = [];
  if (e.kind === "Ranked") {
    let prev = -1;
    for (let k = 0; k < 16; k++) {
      const c = Number((choices >> BigInt(4 * k)) & 15n);
      if (c === prev) break;
      picked.push(c);
      prev = c;
    }
  } else {
    for (let c = 0; c < e.candidates.length; c++) if ((choices >> BigInt(c)) & 1n) picked.push(c);
  }
  return picked.map((c) => t("poll.candidate", { n: c + 1 })).join(e.kind === "Ranked" ? " > " : ", ");
}

function entriesList(e: ElectionOut, entries: Entry[], testid: string): HTMLElement {
  return h(
    "ul",
    { "data-testid": testid },
    ...entries.map((x) => h("li", null, t("paper.entry", { pattern: patternText(e, x.choices), n: x.count }))),
  );
}

/** Another officer's signed totals, with a button to confirm them by signing the same. */
function signedTotals(e: ElectionOut, box: PaperBoxOut, s: BoxSignatureOut, line: HTMLElement, done: () => Promise<void>): HTMLElement {
  const entries = s.choices.map((c, i) => ({ choices: BigInt(c), count: s.counts[i] }));
  const confirm = h("button", { type: "button", "data-testid": `paper-confirm-${box.boxId}` }, t("paper.confirm"));
  confirm.addEventListener("click", () => {
    void act(confirm, line, async () => {
      const officer = await requireWallet();
      line.textContent = t("paper.signing");
      const receipt = await relayed(line, () => signTotals(officer, box.boxId, entries, s.certificateHash));
      await waitIndexed(receipt.block);
      line.dataset.status = "signed";
      await done();
      return t("paper.signed");
    });
  });
  return h(
    "div",
    { class: "panel", "data-testid": `paper-signed-${box.boxId}` },
    h("p", null, t("paper.signedBy", { officer: s.officer.slice(0, 10) })),
    entriesList(e, entries, `paper-signed-entries-${box.boxId}`),
    h("p", { class: "muted" }, t("paper.certificate"), " ", mono(s.certificateHash)),
    h("p", { class: "hint" }, t("paper.confirmHint")),
    h("div", { class: "row" }, confirm),
  );
}

/** The form an officer enters a box's totals in: patterns with counts, the certificate photo. */
function totalsForm(e: ElectionOut, box: PaperBoxOut, line: HTMLElement, done: () => Promise<void>): HTMLElement {
  const ranked = e.kind === "Ranked";
  const id = box.boxId;
  let chosen: number[] = [];
  let entries: Entry[] = [];
  const shown = h("p", { class: "poll-choices", "aria-live": "polite", "data-testid": `paper-pattern-${id}` });
  const list = h("div", null);
  const show = (): void => {
    replace(shown, chosen.length ? chosen.map((c) => t("poll.candidate", { n: c + 1 })).join(ranked ? " > " : ", ") : t("poll.nothing"));
    replace(list, entriesList(e, entries, `paper-entries-${id}`));
  };
  const buttons = e.candidates.map((_, c) =>
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        "data-testid": `paper-candidate-${id}-${c}`,
        onclick: () => {
          if (!chosen.includes(c)) chosen = [...chosen, c];
          else if (!ranked) chosen = chosen.filter((x) => x !== c);
          show();
        },
      },
      t("poll.candidate", { n: c + 1 }),
    ),
  );
  const count = h("input", { type: "number", min: "1", inputmode: "numeric", "data-testid": `paper-count-${id}` });
  const add = h("button", { type: "button", class: "secondary", "data-testid": `paper-add-${id}` }, t("paper.add"));
  add.addEventListener("click", () => {
    void act(add, line, async () => {
      const n = Number(count.value);
      if (!chosen.length) throw new RangeError(t("poll.noChoice"));
      if (chosen.length > e.maxChoices) throw new RangeError(t("poll.tooMany", { max: e.maxChoices }));
      if (!Number.isInteger(n) || n < 1) throw new RangeError(t("paper.badCount"));
      const choices = ranked ? encodeRanking(chosen) : encodeApproval(chosen);
      entries = [...entries.filter((x) => x.choices !== choices), { choices, count: n }];
      chosen = [];
      count.value = "";
      show();
      return "";
    });
  });
  const photo = h("input", { type: "file", accept: "image/*", capture: "environment", "data-testid": `paper-photo-${id}` });
  const submit = h("button", { type: "submit", "data-testid": `paper-submit-${id}` }, t("paper.sign"));
  show();
  return h(
    "form",
    {
      class: "panel",
      "data-testid": `paper-form-${id}`,
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(submit, line, async () => {
          const file = photo.files?.[0];
          if (!entries.length) throw new RangeError(t("paper.noEntries"));
          const total = entries.reduce((sum, x) => sum + x.count, 0);
          if (total > box.voters.length) throw new RangeError(t("paper.over", { n: total, of: box.voters.length }));
          if (!file) throw new RangeError(t("paper.noPhoto"));
          const certificateHash = await bytesHash(await file.arrayBuffer());
          const officer = await requireWallet();
          line.textContent = t("paper.signing");
          const receipt = await relayed(line, () => signTotals(officer, id, entries, certificateHash));
          await waitIndexed(receipt.block);
          line.dataset.status = "signed";
          await done();
          return t("paper.signed");
        });
      },
    },
    h("h3", null, t("paper.enter")),
    field(ranked ? t("paper.ranking") : t("poll.approval"), h("div", { class: "row", role: "group" }, ...buttons)),
    shown,
    field(t("paper.count"), count),
    h("div", { class: "row" }, add),
    list,
    field(t("paper.photo"), photo, t("paper.photoHint")),
    h("div", { class: "row" }, submit),
  );
}

function boxPanel(e: ElectionOut, box: PaperBoxOut, line: HTMLElement, refresh: () => Promise<void>): HTMLElement {
  const label = box.label ?? `#${box.boxId}`;
  const head = h("h2", null, t("paper.heading", { label, n: box.voters.length }));
  if (box.ballots !== null) {
    return h("section", { "data-testid": `paper-box-${box.boxId}`, "data-counted": box.ballots }, head, h("p", null, t("paper.counted", { n: box.ballots })));
  }
  return h(
    "section",
    { "data-testid": `paper-box-${box.boxId}` },
    head,
    ...box.signatures.map((s) => signedTotals(e, box, s, line, refresh)),
    totalsForm(e, box, line, refresh),
  );
}

/** The election's paper boxes, for poll officers: enter, sign or confirm each box's totals. The
 * status line stays outside the boxes, which are redrawn once a signature lands. */
export async function boxTotalsPanel(e: ElectionOut, refreshCounts: () => Promise<void>): Promise<HTMLElement> {
  const body = h("div", { "data-testid": "paper-boxes" });
  const line = statusLine("paper-status");
  const load = async (): Promise<void> => {
    const boxes = await api<PaperBoxOut[]>(`/v1/elections/${e.electionId}/paper-boxes`);
    const refresh = async (): Promise<void> => {
      await refreshCounts();
      await load();
    };
    replace(body, ...(boxes.length ? boxes.map((b) => boxPanel(e, b, line, refresh)) : [h("p", { class: "hint" }, t("paper.none"))]));
  };
  await load();
  return h("div", null, body, line);
}
