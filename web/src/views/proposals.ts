// Anyone: proposals with their full text and hash check, live tallies and published results.
// Residents: vote here (EIP-712 ballot signed in the page).

import { allPages, api } from "../api";
import type { EventOut, Page, ProposalOut, ReceiptOut, TextOut } from "../schemas";
import { textIn } from "../bilingual";
import { barChart, type Bar } from "../charts";
import { castBallot, textHash } from "../chain";
import { h, replace } from "../dom";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { person } from "../people";
import { receipts, saveReceipt, updateStatus } from "../receipts";
import { communityId } from "../state";
import { proposalWork, rated, ratingsPanel } from "./ratings";
import { isSecret, secretBallotPanel, secretQuestion, secretText } from "./secretProposal";
import { act, badge, bps, cardTable, errorBox, loading, money, mono, percent, requireWallet, showReceipt, statusLine, track, waitIndexed, when } from "../ui";

function yesNo(p: ProposalOut): boolean {
  return p.kind === "YesNoAbstain" || p.kind === "SecretYesNoAbstain";
}

export function optionLabel(p: ProposalOut, option: number): string {
  const named = secretQuestion(p)?.options[option];
  if (named !== undefined && !yesNo(p)) return named;
  if (yesNo(p)) return t(["opt.yes", "opt.no", "opt.abstain"][option] ?? "opt.n", { n: option + 1 });
  return t("opt.n", { n: option + 1 });
}

export function title(p: ProposalOut): string {
  const first = (secretQuestion(p)?.question ?? textIn(p.text ?? "")).split(/\r?\n/)[0]?.trim() ?? "";
  if (!first) return t("prop.untitled", { id: p.id });
  return first.length > 90 ? `${first.slice(0, 88)}…` : first;
}

function stateBadge(p: ProposalOut): HTMLElement {
  const tone = { Pending: "neutral", Open: "info", Closed: "warn", Finalized: "neutral" }[p.state];
  return badge(t(`state.${p.state}`), tone, "proposal-state");
}

function outcomeBadge(p: ProposalOut): HTMLElement[] | null {
  if (p.outcome === "None") return null;
  const tone = { Passed: "good", Rejected: "bad", NoQuorum: "warn", TallyNeverPublished: "warn", None: "neutral" }[p.outcome];
  const shown = [badge(t(`outcome.${p.outcome}`), tone, "proposal-outcome")];
  if (p.outcome === "Passed") shown.push(badge(t(`exec.${p.execution}`), p.execution === "Completed" ? "good" : "info", "proposal-execution"));
  return shown;
}

function tallyBars(p: ProposalOut): Bar[] {
  const tones: Bar["tone"][] = yesNo(p) ? ["yes", "no", "abstain"] : [];
  return p.tally.map((votes, i) => ({
    label: optionLabel(p, i),
    value: votes,
    tone: p.outcome === "Passed" && p.winningOption === i ? "win" : (tones[i] ?? "neutral"),
    text: `${votes} (${percent(votes, p.turnout)})`,
  }));
}

export function resultCharts(p: ProposalOut): HTMLElement {
  const quorumVotes = Math.ceil((p.quorumBps * p.rollSize) / 10_000);
  return h(
    "div",
    { class: "charts" },
    barChart(tallyBars(p), { title: t("prop.tallyTitle", { id: p.id }), testid: "tally-chart" }),
    barChart(
      [{ label: t("prop.turnout"), value: p.turnout, tone: "in", text: `${p.turnout} / ${p.rollSize} (${percent(p.turnout, p.rollSize)})` }],
      {
        title: t("prop.turnoutTitle"),
        max: p.rollSize,
        marker: { value: quorumVotes, label: t("prop.quorumMark", { q: bps(p.quorumBps) }) },
        testid: "turnout-chart",
      },
    ),
  );
}

function card(p: ProposalOut): HTMLElement {
  return h(
    "article",
    { class: "card", "data-testid": "proposal-card", "data-id": p.id },
    h(
      "header",
      { class: "card-head" },
      h("h3", null, h("a", { href: `#/proposals/${p.id}` }, `#${p.id} · ${title(p)}`)),
      h("div", { class: "badges" }, stateBadge(p), outcomeBadge(p), isSecret(p) ? badge(t("sp.badge"), "info", "proposal-secret") : null),
    ),
    h(
      "p",
      { class: "muted" },
      p.state === "Open" || p.state === "Pending" ? t("prop.closesAt", { when: when(p.closesAt) }) : t("prop.closedAt", { when: when(p.closesAt) }),
      " · ",
      t("prop.turnoutLine", { n: p.turnout, of: p.rollSize, pct: percent(p.turnout, p.rollSize) }),
      p.budgetAmount ? [" · ", t("prop.budget"), " ", money(p.budgetAmount, p.budgetCurrency)] : null,
    ),
    resultCharts(p),
    h("p", null, h("a", { href: `#/proposals/${p.id}`, class: "button-link" }, p.state === "Open" ? t("prop.readAndVote") : t("prop.read"))),
  );
}

export async function proposalsView(): Promise<HTMLElement> {
  const id = communityId();
  const page = await api<Page<ProposalOut>>(`/v1/proposals?community=${id}&limit=100`);
  const open = page.items.filter((p) => p.state === "Open" || p.state === "Pending");
  const done = page.items.filter((p) => !(p.state === "Open" || p.state === "Pending"));
  return h(
    "section",
    { "data-testid": "proposal-list" },
    h("h1", { tabindex: "-1" }, t("prop.heading")),
    h("p", { class: "lead" }, t("prop.intro")),
    h("h2", null, t("prop.open"), " ", badge(String(open.length))),
    open.length ? open.map(card) : h("p", { class: "muted" }, t("prop.noneOpen")),
    h("h2", null, t("prop.results"), " ", badge(String(done.length))),
    done.length ? done.map(card) : h("p", { class: "muted" }, t("prop.noneDone")),
  );
}

/** The hashes behind a check, under "details" with what a hash is in plain words. */
function hashDetails(...lines: HTMLElement[]): HTMLElement {
  return h("details", { "data-testid": "hash-details" }, h("summary", null, t("polish.details")), h("p", { class: "hint" }, t("polish.hashExplain")), h("ul", null, lines));
}

function textCheck(p: ProposalOut): HTMLElement {
  if (p.text === null) {
    return h("div", { class: "notice", "data-testid": "text-check", "data-ok": "unknown" }, h("p", null, t("polish.noText")), hashDetails(h("li", null, t("prop.hashOnChain"), " ", mono(p.textHash, 10))));
  }
  const local = textHash(p.text);
  const ok = local === p.textHash.toLowerCase() && p.textMatches === true;
  return h(
    "div",
    { class: `check ${ok ? "check-ok" : "check-bad"}`, "data-testid": "text-check", "data-ok": String(ok) },
    h("p", null, h("strong", null, ok ? `✓ ${t("polish.textOk")}` : `✗ ${t("polish.textBad")}`)),
    hashDetails(
      h("li", null, t("prop.hashOnChain"), " ", mono(p.textHash, 10)),
      h("li", null, t("prop.hashBrowser"), " ", mono(local, 10), " ", local === p.textHash.toLowerCase() ? "✓" : "✗"),
      h("li", null, t("prop.hashApi"), " ", p.textMatches ? "✓" : "✗"),
    ),
  );
}

// The outcome of the vote just cast, shown once after the view is redrawn with the new tally.
let voteFlash: { proposalId: number; receipt: ReceiptOut } | null = null;

function votePanel(p: ProposalOut, rerender: () => void): HTMLElement {
  const me = activeAddress();
  const mine = me ? receipts().find((r) => r.proposalId === p.id && r.voter === me && r.status !== "rejected") : undefined;
  const flashed = voteFlash?.proposalId === p.id ? voteFlash : null;
  voteFlash = null;
  const line = statusLine("vote-status");
  if (flashed) showReceipt(line, flashed.receipt);
  const options = Array.from({ length: p.optionCount }, (_, i) =>
    h(
      "label",
      { class: "option" },
      h("input", { type: "radio", name: "option", value: String(i), "data-testid": `vote-option-${i}`, required: true }),
      " ",
      optionLabel(p, i),
    ),
  );
  const button = h("button", { type: "submit", "data-testid": "vote-submit" }, t("vote.sign"));
  const form = h(
    "form",
    {
      class: "vote",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const choice = (form.querySelector("input[name=option]:checked") as HTMLInputElement | null)?.value;
        if (choice === undefined) return;
        void act(button, line, async () => {
          const wallet = await requireWallet();
          const option = Number(choice);
          const { receipt, digest } = await castBallot(wallet, p.id, option);
          saveReceipt({
            id: receipt.id,
            proposalId: p.id,
            communityId: p.communityId,
            voter: wallet.address,
            option,
            label: optionLabel(p, option),
            digest,
            acceptedAt: receipt.acceptedAt,
            status: receipt.status,
            ack: receipt.ack ?? null,
          });
          const final = await track(receipt, line);
          updateStatus(final.id, final.status);
          if (final.status === "counted") {
            await waitIndexed(final.block);
            voteFlash = { proposalId: p.id, receipt: final };
            rerender();
          }
          return undefined;
        });
      },
    },
    h("fieldset", null, h("legend", null, t("vote.choose")), options),
    h("p", { class: "hint" }, t("vote.privacy")),
    me ? h("p", null, t("vote.as"), " ", person(p.communityId, me)) : h("p", { class: "notice" }, t("vote.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))),
    h("div", { class: "row" }, button),
    line,
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "vote-h" },
    h("h2", { id: "vote-h" }, t("vote.heading")),
    mine
      ? h(
          "div",
          { class: flashed ? "flash" : "notice", "data-testid": "already-voted" },
          h("p", null, t("vote.already", { option: optionLabel(p, mine.option) }), " ", h("a", { href: "#/receipts" }, t("nav.receipts"))),
          flashed ? line : null,
        )
      : form,
  );
}

async function milestoneText(hash: string): Promise<string | null> {
  const found = await api<TextOut | null>(`/v1/texts/${hash}`, { allow404: true }).catch(() => null);
  // Shown only when it is the text the chain committed to.
  return found && textHash(found.text) === hash.toLowerCase() ? textIn(found.text) : null;
}

async function milestones(p: ProposalOut): Promise<HTMLElement | null> {
  if (p.milestoneCount === 0) return null;
  const events = await allPages<EventOut>(`/v1/proposals/${p.id}/milestones`);
  const texts = await Promise.all(events.map((e) => milestoneText(String(e.args.evidenceHash))));
  return h(
    "section",
    { class: "panel", "data-testid": "milestones" },
    h("h2", null, t("ms.heading"), " ", badge(t(`exec.${p.execution}`), p.execution === "Completed" ? "good" : "info")),
    h(
      "ol",
      null,
      events.map((e, i) =>
        h(
          "li",
          { "data-testid": "milestone" },
          texts[i] ? h("span", { "data-testid": "milestone-text" }, texts[i]) : t("ms.evidence"),
          " · ",
          t(Number(e.args.status) === 2 ? "exec.Completed" : "exec.InProgress"),
          h("details", null, h("summary", null, t("polish.details")), h("p", { class: "muted" }, t("polish.evidenceHash"), " ", mono(String(e.args.evidenceHash), 10), " · ", t("receipt.block"), " ", String(e.block))),
        ),
      ),
    ),
  );
}

async function ballots(p: ProposalOut): Promise<HTMLElement> {
  const page = await api<Page<EventOut>>(`/v1/proposals/${p.id}/ballots?limit=200`);
  return h(
    "details",
    { class: "panel", "data-testid": "ballots" },
    h("summary", null, t("ballots.heading", { n: page.total })),
    h(
      "div",
      { class: "table-wrap" },
      cardTable(h(
        "table",
        null,
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("ballots.voter")), h("th", { scope: "col" }, t("ballots.option")), h("th", { scope: "col" }, t("ballots.digest")), h("th", { scope: "col" }, t("receipt.block")))),
        h(
          "tbody",
          null,
          page.items.map((e) =>
            h("tr", null, h("td", null, mono(String(e.args.voter))), h("td", null, optionLabel(p, Number(e.args.option))), h("td", null, mono(String(e.args.digest), 8)), h("td", null, String(e.block))),
          ),
        ),
      )),
    ),
  );
}

export async function proposalView(params: string[], rerender: () => void): Promise<HTMLElement> {
  const id = Number(params[0]);
  const p = await api<ProposalOut>(`/v1/proposals/${id}`);
  const extra = h("div", null, loading());
  void Promise.all([milestones(p), rated(p) ? ratingsPanel(proposalWork(p), rerender) : null, ballots(p)])
    .then(([m, r, b]) => replace(extra, m, r, b))
    .catch((error) => replace(extra, errorBox(error)));
  return h(
    "section",
    { "data-testid": "proposal-detail", "data-id": p.id },
    h("p", null, h("a", { href: "#/" }, `← ${t("prop.back")}`)),
    h("h1", { tabindex: "-1" }, t("prop.detailHeading", { id: p.id })),
    h("div", { class: "badges" }, stateBadge(p), outcomeBadge(p), isSecret(p) ? badge(t("sp.badge"), "info", "proposal-secret") : null),
    h(
      "section",
      { class: "panel", "aria-labelledby": "text-h" },
      h("h2", { id: "text-h" }, t("prop.fullText")),
      p.text !== null ? h("div", { class: "fulltext", "data-testid": "proposal-text", lang: "" }, secretText(p) ?? textIn(p.text)) : null,
      textCheck(p),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, t("prop.proposer")),
      h("dd", null, person(p.communityId, p.proposer)),
      h("dt", null, t("prop.opens")),
      h("dd", null, when(p.opensAt)),
      h("dt", null, t("prop.closes")),
      h("dd", null, when(p.closesAt)),
      h("dt", null, t("prop.quorum")),
      h("dd", null, bps(p.quorumBps)),
      h("dt", null, t("prop.threshold")),
      h("dd", null, bps(p.thresholdBps)),
      h("dt", null, t("prop.budget")),
      h("dd", null, p.budgetAmount ? money(p.budgetAmount, p.budgetCurrency) : t("prop.noBudget")),
      h("dt", null, t("prop.roll")),
      h("dd", null, t("prop.rollLine", { v: p.rollVersion, n: p.rollSize })),
    ),
    isSecret(p) ? secretBallotPanel(p) : p.state === "Open" ? votePanel(p, rerender) : null,
    h(
      "section",
      { class: "panel", "aria-labelledby": "res-h" },
      h("h2", { id: "res-h" }, p.state === "Finalized" ? t("prop.published") : t("prop.live")),
      p.state === "Finalized" ? h("p", { "data-testid": "result-line" }, t(`outcome.long.${p.outcome}`, { option: optionLabel(p, p.winningOption) })) : null,
      resultCharts(p),
    ),
    extra,
  );
}
