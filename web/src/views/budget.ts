// Participatory budgeting: a community's rounds; while a round takes projects, the form a
// resident submits one with; a round's projects with the basket a resident fills (the running
// total against the budget, an over-budget basket refused before signing) and, once selected,
// the selection explained step by step.

import { getAddress, type TypedDataDomain, type TypedDataField, type Wallet } from "ethers";
import { api } from "../api";
import { textIn } from "../bilingual";
import { chain, signForward, textHash } from "../chain";
import { budgetBallotJson, budgetBitmap } from "../budget_ballots";
import { h, replace } from "../dom";
import { Problem } from "../errors";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { DOMAINS, EIP712_FIELDS } from "../protocol";
import type { BudgetProjectOut, BudgetRoundOut, BudgetRoundsOut, ReceiptOut } from "../schemas";
import { communityId } from "../state";
import { act, badge, cardTable, field, mono, money, parseMoney, relayed, requireWallet, statusLine, track, waitIndexed, when } from "../ui";
import { projectWork, ratingsPanel } from "./ratings";

const BALLOT_TYPES: Record<string, TypedDataField[]> = { BudgetBallot: EIP712_FIELDS.BudgetBallot };

export async function budgetRoundsView(): Promise<HTMLElement> {
  const cid = communityId();
  const list = await api<BudgetRoundsOut>(`/v1/communities/${cid}/budget-rounds`);
  const rounds = await Promise.all(list.roundIds.map((id) => api<BudgetRoundOut>(`/v1/budget-rounds/${id}`)));
  return h(
    "section",
    { "data-testid": "budget-rounds" },
    h("h1", { tabindex: "-1" }, t("pb.heading")),
    h("p", { class: "lead" }, t("pb.intro")),
    rounds.length
      ? h(
          "ul",
          { class: "cards-list" },
          rounds.map((r) =>
            h(
              "li",
              { class: "panel", "data-round": r.roundId },
              h("h2", null, t("pb.round", { id: r.roundId }), " ", stateBadge(r)),
              h("p", null, t("pb.budget"), " ", money(r.budget, r.currency), " · ", ruleText(r)),
              h("a", { class: "button-link", href: `#/budget/${r.roundId}`, "data-testid": `open-round-${r.roundId}` }, t("pb.open")),
            ),
          ),
        )
      : h("p", { class: "notice" }, t("pb.none")),
  );
}

function stateBadge(r: BudgetRoundOut): HTMLElement {
  const tone = r.state === "Voting" ? "info" : r.state === "Selected" ? "neutral" : "warn";
  return badge(t(`pb.state.${r.state}`), tone, "round-state");
}

function ruleText(r: BudgetRoundOut): string {
  return r.rule === "Knapsack" ? t("pb.ruleKnapsack") : t("pb.ruleKApproval", { k: r.maxProjects });
}

function projectName(index: number): string {
  return t("pb.project", { n: index + 1 });
}

/** The first line of a project's description, if this service holds it. */
function projectTitle(p: BudgetProjectOut): string {
  const first = textIn(p.text ?? "").split(/\r?\n/)[0]?.trim() ?? "";
  return first.length > 90 ? `${first.slice(0, 88)}…` : first;
}

// The outcome of the ballot just cast, shown once after the view is redrawn.
let votedFlash: number | null = null;

export async function budgetRoundView(params: string[], rerender: () => void): Promise<HTMLElement> {
  const roundId = Number(params[0]);
  const r = await api<BudgetRoundOut>(`/v1/budget-rounds/${roundId}`);
  // Each funded project a milestone completed is rated by the residents, as a proposal is.
  const ratings = await Promise.all(
    r.projects.filter((p) => p.completed).map((p) => ratingsPanel(projectWork(r.roundId, p, projectName(p.index)), rerender)),
  );
  return h(
    "section",
    { "data-testid": "budget-round" },
    h("h1", { tabindex: "-1" }, t("pb.round", { id: r.roundId }), " ", stateBadge(r)),
    h(
      "ul",
      { class: "facts" },
      h("li", null, t("pb.budget"), " ", h("strong", { "data-testid": "round-budget" }, money(r.budget, r.currency))),
      h("li", null, ruleText(r)),
      h("li", null, t("pb.limits", { min: r.minProjects, max: r.maxProjects })),
      h("li", null, t("pb.submission", { from: when(r.submissionOpensAt), to: when(r.submissionClosesAt) })),
      h("li", null, t("pb.voting", { from: when(r.votingOpensAt), to: when(r.votingClosesAt) })),
    ),
    r.state === "Submission" ? submitPanel(r, rerender) : null,
    r.state === "Voting" ? basketPanel(r, rerender) : null,
    r.state === "Selected" ? walkPanel(r) : null,
    projectsPanel(r),
    ...ratings,
    exportPanel(r),
  );
}

// --- a project submitted -------------------------------------------------------------------------

/** The cost in minor units, or why it may not be submitted (the contract's rule, before signing). */
export function judgeCost(r: BudgetRoundOut, typed: string): number | string {
  const cost = parseMoney(typed);
  if (cost === null || cost === 0) return t("pb.badCost");
  if (cost > r.budget) return t("pb.costOver", { budget: money(r.budget, r.currency) });
  return cost;
}

function submitPanel(r: BudgetRoundOut, rerender: () => void): HTMLElement {
  const heading = h("h2", { id: "submit-h" }, t("pb.submitHeading"));
  if (!activeAddress()) {
    return h("section", { class: "panel", "aria-labelledby": "submit-h" }, heading, h("p", { class: "notice" }, t("pb.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))));
  }
  const text = h("textarea", { rows: 5, maxlength: 100_000, required: true, "data-testid": "project-text" }) as HTMLTextAreaElement;
  const cost = h("input", { type: "text", inputmode: "decimal", required: true, "data-testid": "project-cost" }) as HTMLInputElement;
  const line = statusLine("project-submit-status");
  const button = h("button", { type: "submit", class: "big", "data-testid": "project-submit" }, t("pb.submit")) as HTMLButtonElement;
  return h(
    "form",
    {
      class: "panel",
      "aria-labelledby": "submit-h",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          if (!text.value.trim()) throw new Problem(t("pb.needText"));
          const judged = judgeCost(r, cost.value);
          if (typeof judged === "string") throw new Problem(judged);
          const wallet = await requireWallet();
          const done = await relayed(line, () => submitProject(wallet, r.roundId, text.value, judged));
          await waitIndexed(done.block);
          rerender();
        });
      },
    },
    heading,
    h("p", null, t("pb.submitIntro", { to: when(r.submissionClosesAt) })),
    field(t("pb.text"), text, t("pb.textHint")),
    field(t("pb.cost"), cost, t("pb.costHint", { currency: r.currency, budget: money(r.budget, r.currency) })),
    h("div", { class: "row" }, button),
    line,
  );
}

/** The description and the resident's signed `submitProject` of its hash, in one request: the
 * text is on the server before anyone is asked to vote for it. */
async function submitProject(wallet: Wallet, roundId: number, text: string, cost: number): Promise<ReceiptOut> {
  const request = await signForward(wallet, "budget", "submitProject", [roundId, textHash(text), cost]);
  return api<ReceiptOut>(`/v1/budget-rounds/${roundId}/projects`, { json: { text, request } });
}

// --- the basket -----------------------------------------------------------------------------------

interface Basket {
  count: number;
  total: number;
  refusal: string | null; // why the basket may not be signed, if it may not
}

/** The basket's count and total, and the rule it breaks (the contract's checks, before signing). */
export function judgeBasket(r: BudgetRoundOut, chosen: number[]): Basket {
  const total = chosen.reduce((sum, i) => sum + (r.projects[i]?.cost ?? 0), 0);
  const count = chosen.length;
  let refusal: string | null = null;
  if (r.rule === "Knapsack" && total > r.budget) refusal = t("pb.over", { over: money(total - r.budget, r.currency) });
  else if (count > r.maxProjects) refusal = t("pb.tooMany", { k: r.maxProjects });
  else if (count < r.minProjects) refusal = t("pb.tooFew", { min: r.minProjects });
  return { count, total, refusal };
}

function basketPanel(r: BudgetRoundOut, rerender: () => void): HTMLElement {
  const line = statusLine("ballot-status");
  const flashed = votedFlash === r.roundId;
  votedFlash = null;
  const eligible = r.projects.filter((p) => p.eligible);
  const boxes = eligible.map((p) =>
    h(
      "label",
      { class: "option" },
      h("input", { type: "checkbox", value: String(p.index), "data-testid": `basket-${p.index}`, onchange: () => update() }),
      " ",
      projectName(p.index),
      " · ",
      money(p.cost, r.currency),
    ),
  );
  const total = h("p", { class: "basket-total", role: "status", "aria-live": "polite", "data-testid": "basket-total" });
  const meter = h("div", { class: "basket-meter", "aria-hidden": "true" }, h("span", { class: "basket-fill" }));
  const refusal = h("p", { class: "notice basket-refusal", "data-testid": "basket-refusal", hidden: true });
  const button = h("button", { type: "submit", "data-testid": "basket-sign" }, t("pb.sign")) as HTMLButtonElement;

  const chosen = (): number[] =>
    boxes.map((b) => b.querySelector("input") as HTMLInputElement).filter((i) => i.checked).map((i) => Number(i.value));

  function update(): void {
    const basket = judgeBasket(r, chosen());
    replace(
      total,
      r.rule === "Knapsack"
        ? t("pb.total", { count: basket.count, total: money(basket.total, r.currency), budget: money(r.budget, r.currency) })
        : t("pb.totalK", { count: basket.count, k: r.maxProjects }),
    );
    const share = r.rule === "Knapsack" ? basket.total / r.budget : basket.count / r.maxProjects;
    const fill = meter.firstElementChild as HTMLElement;
    fill.style.width = `${Math.min(100, Math.round(share * 100))}%`;
    meter.classList.toggle("over", share > 1);
    total.classList.toggle("over", basket.refusal !== null && share > 1);
    refusal.hidden = basket.refusal === null;
    replace(refusal, basket.refusal ?? "");
    button.disabled = basket.refusal !== null;
  }

  const form = h(
    "form",
    {
      class: "vote basket",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const picks = chosen();
        if (judgeBasket(r, picks).refusal !== null) return; // refused before signing
        void act(button, line, async () => {
          const wallet = await requireWallet();
          const receipt = await castBudgetBallot(wallet, r.roundId, picks);
          const final = await track(receipt, line);
          if (final.status === "counted") {
            await waitIndexed(final.block);
            votedFlash = r.roundId;
            rerender();
          }
          return undefined;
        });
      },
    },
    h("fieldset", null, h("legend", null, t("pb.basketHint")), boxes),
    total,
    meter,
    refusal,
    activeAddress() ? null : h("p", { class: "notice" }, h("a", { href: "#/keys" }, t("nav.keys"))),
    h("div", { class: "row" }, button),
    line,
  );
  update();
  return h(
    "section",
    { class: "panel", "aria-labelledby": "basket-h" },
    h("h2", { id: "basket-h" }, t("pb.basket")),
    flashed ? h("p", { class: "flash", "data-testid": "ballot-counted" }, t("pb.voted")) : null,
    form,
  );
}

function budgetDomain(chainId: number, address: string): TypedDataDomain {
  const { name, version } = DOMAINS.ParticipatoryBudget;
  return { name, version, chainId, verifyingContract: address };
}

async function castBudgetBallot(wallet: Wallet, roundId: number, picks: number[]): Promise<ReceiptOut> {
  const c = await chain();
  const address = (c.addresses as Record<string, string>).budget;
  if (!address) throw new Error("no ParticipatoryBudget contract");
  const bitmap = budgetBitmap(picks);
  const voter = getAddress(wallet.address);
  const signature = await wallet.signTypedData(budgetDomain(c.chainId, address), BALLOT_TYPES, { roundId, voter, projects: bitmap });
  return api<ReceiptOut>("/v1/budget-ballots", { rawJson: budgetBallotJson(roundId, voter, bitmap, signature) });
}

// --- results ------------------------------------------------------------------------------------

function walkPanel(r: BudgetRoundOut): HTMLElement {
  const money_ = (v: number): string => money(v, r.currency);
  let before = r.selectionBudget;
  const steps = r.walk.map((s, k) => {
    const text = t(s.selected ? "pb.stepSelected" : "pb.stepPassed", {
      step: k + 1,
      n: s.index + 1,
      votes: s.votes,
      cost: money_(s.cost),
      before: money_(before),
      after: money_(s.remaining),
    });
    before = s.remaining;
    return h("li", { class: s.selected ? "step-selected" : "step-passed", "data-step": s.index, "data-selected": String(s.selected) }, text);
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "walk-h", "data-testid": "budget-walk" },
    h("h2", { id: "walk-h" }, t("pb.walk")),
    h("p", null, t("pb.walkIntro", { budget: money_(r.selectionBudget) })),
    h("ol", { class: "walk" }, steps),
    h("p", { "data-testid": "budget-spent" }, t("pb.spent", { spent: money_(r.spent), left: money_(r.selectionBudget - r.spent) })),
  );
}

function outcome(r: BudgetRoundOut, p: BudgetProjectOut): string {
  if (!p.eligible) return t("pb.ineligible");
  if (r.state !== "Selected") return "—";
  if (p.selected) return t("pb.selected");
  return r.walk.some((s) => s.index === p.index) ? t("pb.passedOver") : t("pb.notWalked");
}

function projectsPanel(r: BudgetRoundOut): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-labelledby": "projects-h" },
    h("h2", { id: "projects-h" }, t("pb.projects")),
    h(
      "div",
      { class: "table-wrap" },
      cardTable(
        h(
          "table",
          { "data-testid": "budget-projects" },
          h("thead", null, h("tr", null, [t("pb.projects"), t("pb.cost"), t("pb.votes"), t("pb.selected")].map((k) => h("th", { scope: "col" }, k)))),
          h(
            "tbody",
            null,
            r.projects.map((p) =>
              h(
                "tr",
                { "data-project": p.index, "data-votes": p.votes, "data-selected": String(p.selected) },
                h("td", null, projectName(p.index), " ", h("span", { "data-testid": "project-title" }, projectTitle(p)), " ", mono(p.textHash, 6)),
                h("td", { class: "num" }, money(p.cost, r.currency)),
                h("td", { class: "num" }, String(p.votes)),
                h("td", null, outcome(r, p)),
              ),
            ),
          ),
        ) as HTMLTableElement,
      ),
    ),
  );
}

function exportPanel(r: BudgetRoundOut): HTMLElement {
  const base = `/v1/budget-rounds/${r.roundId}`;
  const link = (href: string, name: string, key: string, testid: string): HTMLElement =>
    h("a", { class: "button-link", href, download: name, "data-testid": testid }, t(key));
  return h(
    "section",
    { class: "panel" },
    h("h2", null, t("pb.export")),
    h(
      "div",
      { class: "row" },
      link(`${base}/projects.csv`, `budget-round-${r.roundId}-projects.csv`, "pb.csvProjects", "export-projects"),
      link(`${base}/ballots.csv`, `budget-round-${r.roundId}-ballots.csv`, "pb.csvBallots", "export-ballots"),
      link(`${base}/round.pb`, `budget-round-${r.roundId}.pb`, "pb.pb", "export-pb"),
    ),
  );
}
