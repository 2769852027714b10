// Residents' ratings of a passed proposal whose work is completed: the chain's count and average,
// the spread of scores, and for a resident five large buttons to rate it (signed, relayed).

import { api } from "../api";
import type { ProposalOut, RatingsOut } from "../schemas";
import { barChart } from "../charts";
import { h } from "../dom";
import { t } from "../i18n";
import { rate } from "../initiatives";
import { activeAddress } from "../keys";
import { act, relayed, requireWallet, statusLine, waitIndexed, when } from "../ui";

export function rated(p: ProposalOut): boolean {
  return p.outcome === "Passed" && p.execution === "Completed";
}

export async function ratingsOf(p: ProposalOut, rater: string | null = null): Promise<RatingsOut> {
  return api<RatingsOut>(`/v1/proposals/${p.id}/ratings${rater ? `?rater=${rater}` : ""}`);
}

/** The count, the average and the histogram, as the committee's record and the proposal show. */
export function ratingSummary(p: ProposalOut, r: RatingsOut): HTMLElement {
  return h(
    "div",
    { "data-testid": "ratings-summary", "data-count": r.count, "data-average": r.average ?? "" },
    h("p", null, r.count ? h("strong", null, t("rate.summary", { n: r.count, avg: (r.average ?? 0).toFixed(2) })) : t("rate.none")),
    r.count
      ? barChart(
          r.histogram.map((n, i) => ({ label: t("rate.score", { n: i + 1 }), value: n, tone: "in", text: String(n) })),
          { title: t("rate.chartTitle", { id: p.id }), max: Math.max(...r.histogram), testid: "ratings-chart" },
        )
      : null,
  );
}

function rateForm(p: ProposalOut, rerender: () => void): HTMLElement {
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
            const done = await relayed(line, () => rate(wallet, p.id, score, comment.value));
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

/** The ratings panel of a completed proposal. */
export async function ratingsPanel(p: ProposalOut, rerender: () => void): Promise<HTMLElement | null> {
  if (!rated(p)) return null;
  const me = activeAddress();
  const r = await ratingsOf(p, me);
  const closed = r.closesAt !== null && r.closesAt * 1000 <= Date.now();
  return h(
    "section",
    { class: "panel", "data-testid": "ratings", "aria-labelledby": "rate-h" },
    h("h2", { id: "rate-h" }, t("rate.heading")),
    h("p", { class: "hint" }, t("rate.intro")),
    ratingSummary(p, r),
    r.closesAt !== null ? h("p", { class: "muted" }, t(closed ? "rate.closedAt" : "rate.closesAt", { when: when(r.closesAt) })) : null,
    r.rated ? h("p", { class: "notice", "data-testid": "rated" }, `✓ ${t("rate.done")}`) : me && !closed ? rateForm(p, rerender) : null,
  );
}
