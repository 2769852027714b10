// "My election ballot is on-chain and counted": each election receipt this browser kept,
// re-checked — the digest recomputed here, the relay's receipt counted (and its signed promise
// naming that digest), and the chain's ElectionBallotsCast entry for this voter carrying the choices
// signed (the event holds the choices, not a digest).

import { api } from "../api";
import { ackIsSigned, chain } from "../chain";
import { h } from "../dom";
import { electionBallotDigest, electionReceipts, updateElectionStatus, type ElectionReceipt } from "../election_ballots";
import { t, tOr } from "../i18n";
import type { ReceiptOut } from "../schemas";
import { act, badge, mono, statusLine, when } from "../ui";

interface Check {
  label: string;
  ok: boolean;
}

/** The voter's row of ballots.csv (block, txHash, voter, choices, read), if there is one. */
async function castOnChain(r: ElectionReceipt): Promise<{ block: string; tx: string; choices: string } | null> {
  const response = await fetch(`/v1/elections/${r.electionId}/ballots.csv`, { cache: "no-store" });
  if (!response.ok) return null;
  const rows = (await response.text()).trim().split("\n").slice(1).map((line) => line.split(","));
  const mine = rows.find((cells) => (cells[2] ?? "").toLowerCase() === r.voter.toLowerCase());
  return mine ? { block: mine[0] ?? "", tx: mine[1] ?? "", choices: mine[3] ?? "" } : null;
}

async function verify(r: ElectionReceipt): Promise<{ ok: boolean; checks: Check[]; tx?: string }> {
  const c = await chain();
  const expected = electionBallotDigest(c, r.electionId, r.voter, BigInt(r.choices)).toLowerCase();
  const remote = await api<ReceiptOut>(`/v1/receipts/${r.id}`);
  updateElectionStatus(r.id, remote.status);
  const cast = await castOnChain(r);
  const signed = `0x${BigInt(r.choices).toString(16).padStart(16, "0")}`;
  const checks: Check[] = [
    { label: t("check.digestLocal"), ok: expected === r.digest.toLowerCase() },
    { label: t("check.counted"), ok: remote.status === "counted" },
    { label: t("el.check.onChain"), ok: cast !== null },
    { label: t("el.check.choices"), ok: cast !== null && cast.choices.toLowerCase() === signed },
  ];
  if (r.ack) checks.push({ label: t("check.ackSigned"), ok: ackIsSigned(c, r.ack) && r.ack.message.toLowerCase() === expected });
  return { ok: checks.every((x) => x.ok), checks, tx: cast?.tx };
}

function card(r: ElectionReceipt): HTMLElement {
  const line = statusLine("election-receipt-status");
  const button = h("button", { type: "button", class: "secondary", "data-testid": "election-receipt-recheck" }, t("receipts.recheck"));
  button.addEventListener("click", () => {
    void act(button, line, async () => {
      const result = await verify(r);
      line.dataset.status = result.ok ? "ok" : "bad";
      return h(
        "div",
        { class: `check ${result.ok ? "check-ok" : "check-bad"}`, "data-testid": "election-receipt-verdict", "data-ok": String(result.ok) },
        h("p", null, h("strong", null, result.ok ? `✓ ${t("receipts.verdictOk")}` : `✗ ${t("receipts.verdictBad")}`)),
        h("ul", null, result.checks.map((c) => h("li", null, c.ok ? "✓ " : "✗ ", c.label))),
        result.tx ? h("p", { class: "muted" }, t("receipts.tx"), " ", mono(result.tx, 10)) : null,
      );
    });
  });
  return h(
    "article",
    { class: "card", "data-testid": "election-receipt-card", "data-receipt": r.id },
    h(
      "header",
      { class: "card-head" },
      h("h3", { class: "card-title" }, h("a", { href: `#/elections/${r.electionId}` }, t("el.receiptFor", { id: r.electionId }))),
      badge(tOr(`receipt.status.${r.status}`, r.status), r.status === "counted" ? "good" : r.status === "rejected" ? "bad" : "info"),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, t("receipts.option")),
      h("dd", null, r.read),
      h("dt", null, t("receipts.voter")),
      h("dd", null, mono(r.voter)),
      h("dt", null, t("receipt.id")),
      h("dd", null, mono(r.id, 10)),
      h("dt", null, t("el.digest")),
      h("dd", null, mono(r.digest, 10)),
      h("dt", null, t("receipts.accepted")),
      h("dd", null, when(r.acceptedAt)),
    ),
    h("div", { class: "row" }, button),
    line,
  );
}

/** The election receipts section of the receipts view; null when this browser has none. */
export function electionReceiptsSection(): HTMLElement | null {
  const all = electionReceipts();
  if (!all.length) return null;
  return h("section", { "data-testid": "election-receipts", "aria-labelledby": "el-receipts-h" }, h("h2", { id: "el-receipts-h" }, t("el.receiptsHeading")), all.map(card));
}
