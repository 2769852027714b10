// Anyone: where every cent of the community fund came from and went, from the chain's events.

import { allPages, api } from "../api";
import type { FundOut, TrailEntryOut } from "../schemas";
import { barChart, type Bar } from "../charts";
import { h } from "../dom";
import { t } from "../i18n";
import { person } from "../people";
import { communityId } from "../state";
import { cardTable, money, mono } from "../ui";

const TONE: Record<string, Bar["tone"]> = {
  IncomeRecorded: "in",
  GrantOpened: "reserve",
  GrantClosed: "neutral",
  PayoutRequested: "neutral",
  PayoutApproved: "neutral",
  PayoutCancelled: "neutral",
  PayoutExecuted: "out",
};

function trailChart(entries: TrailEntryOut[], currency: string): SVGElement {
  // The money-moving steps in chain order, with the fund's running balance after each.
  let balance = 0;
  const bars: Bar[] = [];
  for (const e of entries) {
    if (e.step === "IncomeRecorded") balance += e.amount;
    else if (e.step === "PayoutExecuted") balance -= e.amount;
    else if (e.step !== "GrantOpened" && e.step !== "GrantClosed") continue;
    const sign = e.step === "PayoutExecuted" ? "−" : e.step === "IncomeRecorded" ? "+" : "";
    bars.push({
      label: `${t(`step.${e.step}`)}${e.proposalId ? ` #${e.proposalId}` : ""}`,
      value: e.amount,
      tone: TONE[e.step] ?? "neutral",
      text: `${sign}${money(e.amount, currency)}`,
    });
  }
  return barChart(bars, { title: t("fund.chartTitle"), testid: "trail-chart", labelWidth: 200 });
}

export async function fundView(): Promise<HTMLElement> {
  const cid = communityId();
  const [fund, trail] = await Promise.all([api<FundOut>(`/v1/communities/${cid}/fund`), allPages<TrailEntryOut>(`/v1/communities/${cid}/fund/trail`)]);
  const c = fund.currency;
  const summary: Bar[] = [
    { label: t("fund.income"), value: fund.totalIncome, tone: "in", text: money(fund.totalIncome, c) },
    { label: t("fund.available"), value: fund.available, tone: "neutral", text: money(fund.available, c) },
    { label: t("fund.reserved"), value: fund.reserved, tone: "reserve", text: money(fund.reserved, c) },
    { label: t("fund.paid"), value: fund.totalPaid, tone: "out", text: money(fund.totalPaid, c) },
  ];
  return h(
    "section",
    { "data-testid": "fund" },
    h("h1", { tabindex: "-1" }, t("fund.heading")),
    h("p", { class: "lead" }, t("fund.intro", { n: fund.approvalThreshold })),
    h("div", { class: "panel" }, h("h2", null, t("fund.summary")), barChart(summary, { title: t("fund.summary"), testid: "fund-summary-chart" })),
    h("div", { class: "panel" }, h("h2", null, t("fund.chartTitle")), trailChart(trail, c), h("p", { class: "hint" }, t("fund.chartHint"))),
    h(
      "div",
      { class: "panel" },
      h(
        "div",
        { class: "card-head" },
        h("h2", null, t("fund.trail"), " ", h("span", { class: "badge badge-neutral" }, String(trail.length))),
        h("a", { class: "button-link", href: `/v1/communities/${cid}/fund/trail.csv`, download: `fund-${cid}.csv`, "data-testid": "trail-csv" }, t("fund.csv")),
      ),
      h(
        "div",
        { class: "table-wrap" },
        cardTable(h(
          "table",
          { "data-testid": "trail-table" },
          h("caption", { class: "sr-only" }, t("fund.trail")),
          h("thead", null, h("tr", null, ["receipt.block", "fund.step", "fin.proposal", "pay.request", "pay.amount", "fund.party", "fund.reference", "fund.tx"].map((k) => h("th", { scope: "col" }, t(k))))),
          h(
            "tbody",
            null,
            trail.map((e) =>
              h(
                "tr",
                { "data-step": e.step, "data-request": e.requestId ?? "", "data-amount": e.amount },
                h("td", null, String(e.block)),
                h("td", null, t(`step.${e.step}`)),
                h("td", null, e.proposalId ? h("a", { href: `#/proposals/${e.proposalId}` }, `#${e.proposalId}`) : "—"),
                h("td", null, e.requestId ? `#${e.requestId}` : "—"),
                h("td", { class: "num" }, e.amount ? money(e.amount, c) : "—"),
                h("td", null, e.party ? person(cid, e.party) : "—"),
                h("td", null, mono(e.reference, 6)),
                h("td", null, mono(e.txHash, 6)),
              ),
            ),
          ),
        )),
      ),
    ),
  );
}
