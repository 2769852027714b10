// Residents' ratings of completed work — a passed proposal whose execution is completed, or a
// funded budget project a milestone completed: the chain's count and average, the spread of
// scores, and for a resident five large buttons to rate it (signed, relayed).

import { api } from "../api";
import type { BudgetProjectOut, ProposalOut, RatingsOut } from "../schemas";
import { barChart } from "../charts";
import { h } from "../dom";
import { t } from "../i18n";
import { rate } from "../initiatives";
import { activeAddress } from "../keys";
import { act, relayed, requireWallet, statusLine, waitIndexed, when } from "../ui";

/** What is rated: the id residents sign (a decimal string: a budget project's is past 2^53), how
 * the chart names it, and where its ratings are read. */
export interface RatedWork {
  id: string;
  heading: string;
  intro: string;
  title: string;
  path: string;
}

export function rated(p: ProposalOut): boolean {
  return p.outcome === "Passed" && p.execution === "Completed";
}

export function proposalWork(p: ProposalOut): RatedWork {
  return {
    id: String(p.id),
    heading: t("rate.heading"),
    intro: t("rate.intro"),
    title: t("rate.chartTitle", { id: p.id }),
    path: `/v1/proposals/${p.id}/ratings`,
  };
}

export function projectWork(roundId: number, p: BudgetProjectOut, name: string): RatedWork {
  return {
    id: p.ratingsId,
    heading: t("rate.projectHeading", { name }),
    intro: t("rate.projectIntro"),
    title: t("rate.projectChartTitle", { name }),
    path: `/v1/budget-rounds/${roundId}/projects/${p.index}/ratings`,
  };
}

export async function ratingsOf(w: RatedWork, rater: string | null = null): Promise<RatingsOut> {
  return api<RatingsOut>(`${w.path}${rater ? `?rater=${rater}` : ""}`);
}

/** The count, the average and the histogram, as the committee's record and the proposal show. */
export function ratingSummary(w: RatedWork, r: RatingsOut): HTMLElement {
  return h(
    "div",
    { "data-testid": "ratings-summary", "data-count": r.count, "data-average": r.average ?? "" },
    h("p", null, r.count ? h("strong", null, t("rate.summary", { n: r.count, avg: (r.average ?? 0).toFixed(2) })) : t("rate.none")),
    r.count
      ? barChart(
          r.histogram.map((n, i) => ({ label: t("rate.score", { n: i + 1 }), value: n, tone: "in", text: String(n) })),
          { title: w.title, max: Math.max(...r.histogram), testid: "ratings-chart" },
        )
      : null,
  );
}

function rateForm(w: RatedWork, rerender: () => void): HTMLElement {
  const comment = h("input", { type: "text", maxlength: 500, "data-testid": "rating-comment", "aria-label": t("rate.comment"), placeholder: t("rate.comment") });
  const line = statusLine("rating-status");
  const buttons: HTMLButtonElement[] = [];
  for (let score = 1; score <= 5; score++) {
    const button = h(
      "button",
      {
        type: "button",
        class: "big",
        "data-testid": `rate-${score}`,
        "aria-label": t("rate.score", { n: score }),
        onclick: () =>
          void act(button, line, async () => {
            const wallet = await requireWallet();
            const done = await relayed(line, () => rate(wallet, BigInt(w.id), score, comment.value));
            await waitIndexed(done.block); // the histogram comes from the index
            rerender();
          }),
      },
      "★".repeat(score),
    );
    buttons.push(button);
  }
  return h("div", null, h("p", null, t("rate.choose")), h("div", { class: "row rate-buttons" }, buttons), comment, line);
}

/** The ratings panel of completed work. */
export async function ratingsPanel(w: RatedWork, rerender: () => void): Promise<HTMLElement> {
  const me = activeAddress();
  const r = await ratingsOf(w, me);
  const closed = r.closesAt !== null && r.closesAt * 1000 <= Date.now();
  return h(
    "section",
    { class: "panel", "data-testid": "ratings", "data-rated": w.id, "aria-labelledby": `rate-h-${w.id}` },
    h("h2", { id: `rate-h-${w.id}` }, w.heading),
    h("p", { class: "hint" }, w.intro),
    ratingSummary(w, r),
    r.closesAt !== null ? h("p", { class: "muted" }, t(closed ? "rate.closedAt" : "rate.closesAt", { when: when(r.closesAt) })) : null,
    r.rated ? h("p", { class: "notice", "data-testid": "rated" }, `✓ ${t("rate.done")}`) : me && !closed ? rateForm(w, rerender) : null,
  );
}
