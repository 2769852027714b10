// "My ballot is on-chain and counted": re-check each stored receipt three ways — the relay's
// receipt says counted with the digest this page computed, and the chain's BallotCast event for
// this voter carries the same digest.

import { allPages, api } from "../api";
import type { EventOut, ReceiptOut } from "../schemas";
import { ackIsSigned, ballotDigest, chain } from "../chain";
import { h, replace } from "../dom";
import { t, tOr } from "../i18n";
import { receipts, updateStatus, type BallotReceipt } from "../receipts";
import { qrSvg } from "../qr";
import { act, badge, mono, statusLine, when } from "../ui";
import { electionReceiptsSection } from "./election_receipts";

interface Check {
  label: string;
  ok: boolean;
  detail?: string;
}

async function verify(r: BallotReceipt): Promise<{ ok: boolean; checks: Check[]; block?: number; tx?: string }> {
  const c = await chain();
  const expected = ballotDigest(c, r.proposalId, r.voter, r.option).toLowerCase();
  const remote = await api<ReceiptOut>(`/v1/receipts/${r.id}`);
  updateStatus(r.id, remote.status);
  const ballots = await allPages<EventOut>(`/v1/proposals/${r.proposalId}/ballots`);
  const mine = ballots.find((e) => String(e.args.voter).toLowerCase() === r.voter.toLowerCase());
  const checks: Check[] = [
    { label: t("check.digestLocal"), ok: expected === r.digest.toLowerCase() },
    { label: t("check.counted"), ok: remote.status === "counted", detail: remote.status === "counted" ? undefined : t(`receipt.status.${remote.status}`) },
    { label: t("check.receiptDigest"), ok: (remote.detail ?? "").toLowerCase() === expected },
    { label: t("check.onChain"), ok: mine !== undefined, detail: mine ? t("check.inBlock", { block: mine.block }) : undefined },
    {
      label: t("check.chainDigest"),
      ok: mine !== undefined && String(mine.args.digest).toLowerCase() === expected && Number(mine.args.option) === r.option,
    },
  ];
  if (r.ack) {
    checks.push({
      label: t("check.ackSigned"),
      ok: ackIsSigned(c, r.ack) && r.ack.message.toLowerCase() === expected,
      detail: t("check.landBy", { block: r.ack.landBy }),
    });
  }
  return { ok: checks.every((x) => x.ok), checks, block: mine?.block, tx: mine?.txHash };
}

/** The receipt as `commons verify-receipt FILE` reads it: the ballot named by its voter and
 * digest (the transaction, if any, is found on the chain by the digest). Nothing secret. */
export function receiptFile(r: BallotReceipt, chainId: number, council: string): Record<string, unknown> {
  return {
    kind: "ballot",
    receiptId: r.id,
    chainId,
    council,
    communityId: r.communityId,
    proposalId: r.proposalId,
    voter: r.voter,
    option: r.option,
    label: r.label ?? null,
    digest: r.digest,
    acceptedAt: r.acceptedAt,
    status: r.status,
    ack: r.ack ?? null,
  };
}

function saveFile(r: BallotReceipt): void {
  void chain().then((c) => {
    const text = `${JSON.stringify(receiptFile(r, c.chainId, c.addresses.council), null, 2)}\n`;
    const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: `ballot-receipt-${r.proposalId}-${r.id.slice(0, 10)}.json` });
    document.body.append(link);
    link.click();
    link.remove();
  });
}

function qrToggle(r: BallotReceipt): HTMLElement[] {
  const box = h("div", { class: "receipt-qr", "data-testid": "receipt-qr", hidden: true });
  const button = h("button", { type: "button", class: "secondary", "data-testid": "receipt-show-qr", "aria-expanded": "false" }, t("polish.receipt.qr"));
  button.addEventListener("click", () => {
    const opening = box.hidden;
    box.hidden = !opening;
    button.setAttribute("aria-expanded", String(opening));
    button.textContent = t(opening ? "polish.receipt.hideQr" : "polish.receipt.qr");
    // Small enough for a phone's camera: what verify-receipt needs, no more.
    const compact = { kind: "ballot", proposalId: r.proposalId, voter: r.voter, option: r.option, digest: r.digest };
    if (opening) replace(box, qrSvg(JSON.stringify(compact), t("polish.receipt.qrLabel")));
  });
  return [button, box];
}

function row(r: BallotReceipt): HTMLElement {
  const line = statusLine("receipt-check-status");
  const save = h("button", { type: "button", class: "secondary", "data-testid": "receipt-save" }, t("polish.receipt.save"));
  save.addEventListener("click", () => saveFile(r));
  const [qrButton, qrBox] = qrToggle(r);
  const button = h("button", { type: "button", class: "secondary", "data-testid": "receipt-recheck" }, t("receipts.recheck"));
  button.addEventListener("click", () => {
    void act(button, line, async () => {
      const result = await verify(r);
      line.dataset.status = result.ok ? "ok" : "bad";
      return h(
        "div",
        { class: `check ${result.ok ? "check-ok" : "check-bad"}`, "data-testid": "receipt-verdict", "data-ok": String(result.ok) },
        h("p", null, h("strong", null, result.ok ? `✓ ${t("receipts.verdictOk")}` : `✗ ${t("receipts.verdictBad")}`)),
        h(
          "ul",
          null,
          result.checks.map((c) => h("li", null, c.ok ? "✓ " : "✗ ", c.label, c.detail ? ` (${c.detail})` : "")),
        ),
        result.tx ? h("p", { class: "muted" }, t("receipts.tx"), " ", mono(result.tx, 10)) : null,
      );
    });
  });
  return h(
    "article",
    { class: "card", "data-testid": "receipt-card", "data-receipt": r.id },
    h(
      "header",
      { class: "card-head" },
      h("h2", { class: "card-title" }, h("a", { href: `#/proposals/${r.proposalId}` }, t("receipts.for", { id: r.proposalId }))),
      badge(tOr(`receipt.status.${r.status}`, r.status), r.status === "counted" ? "good" : r.status === "rejected" ? "bad" : "info"),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, t("receipts.option")),
      h("dd", null, r.label ? `${r.label} (${r.option})` : String(r.option)),
      h("dt", null, t("receipts.voter")),
      h("dd", null, mono(r.voter)),
      h("dt", null, t("receipt.id")),
      h("dd", null, mono(r.id, 10)),
      h("dt", null, t("ballots.digest")),
      h("dd", null, mono(r.digest, 10)),
      h("dt", null, t("receipts.accepted")),
      h("dd", null, when(r.acceptedAt)),
      r.ack ? h("dt", null, t("receipts.promise")) : null,
      r.ack ? h("dd", { "data-testid": "receipt-promise" }, t("check.landBy", { block: r.ack.landBy })) : null,
    ),
    h("div", { class: "row" }, button, save, qrButton),
    qrBox,
    h("p", { class: "hint" }, t("polish.receipt.saveHint")),
    line,
  );
}

export async function receiptsView(): Promise<HTMLElement> {
  const all = receipts();
  const list = h("div", null);
  const elections = electionReceiptsSection();
  replace(list, all.length ? all.map(row) : elections ? null : h("p", { class: "muted" }, t("receipts.none")));
  return h(
    "section",
    { "data-testid": "receipts" },
    h("h1", { tabindex: "-1" }, t("receipts.heading")),
    h("p", { class: "lead" }, t("receipts.intro")),
    list,
    elections,
  );
}
