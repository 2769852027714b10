// Anyone: the community's elections, each with its candidates' statements (checked against the
// hashes the chain holds) and its results round by round. Residents: a ranked ballot made by
// tapping candidates in order, or an approval ballot by ticking up to k; reviewed, then signed
// in the page (EIP-712, as the council ballot is) and relayed gasless, with its receipt.

import { api } from "../api";
import { COUNT_STEP_BALLOTS, FORWARD_GAS } from "../protocol";
import { textIn } from "../bilingual";
import { barChart, type Bar } from "../charts";
import { signForward, textHash } from "../chain";
import { h, replace } from "../dom";
import { keptChoices } from "../drafts";
import { castElectionProxyBallot } from "../election_proxy_ballots";
import { castElectionBallot, electionReceipts, encodeApproval, encodeRanking, saveElectionReceipt, updateElectionStatus } from "../election_ballots";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { channelCounts } from "../paper_boxes";
import { person } from "../people";
import type { ElectionOut, ElectionRoundOut, ElectionRoundsOut, ElectionSeatOut, HeldOut, Page, ReceiptOut } from "../schemas";
import { communityId } from "../state";
import { secretVotesSection } from "./secret";
import { act, badge, loading, errorBox, mono, relayed, requireWallet, showReceipt, statusLine, track, waitIndexed, when } from "../ui";

/** A candidate's statement in the reader's language, if it is the text the chain committed to. */
function statement(e: ElectionOut, i: number): string | null {
  const text = e.statements[i];
  return text != null && textHash(text) === e.candidates[i]?.toLowerCase() ? textIn(text) : null;
}

/** A candidate's name: the first line of their statement, or "Candidate n". */
export function candidateName(e: ElectionOut, i: number): string {
  const first = statement(e, i)?.split(/\r?\n/)[0]?.trim();
  return first ? (first.length > 40 ? `${first.slice(0, 38)}…` : first) : t("el.candidate", { n: i + 1 });
}

/** A ballot as people read it: "1. Wang, 2. Li" or "Wang, Li". */
export function ballotText(e: ElectionOut, chosen: readonly number[]): string {
  return e.kind === "Ranked"
    ? chosen.map((c, k) => `${k + 1}. ${candidateName(e, c)}`).join(", ")
    : chosen.map((c) => candidateName(e, c)).join(", ");
}

function stateBadge(e: ElectionOut): HTMLElement {
  const tone = { Pending: "neutral", Open: "info", Closed: "warn", Counted: "good" }[e.state];
  return badge(t(`el.state.${e.state}`), tone, "election-state");
}

function winnersLine(e: ElectionOut): HTMLElement | null {
  if (e.state !== "Counted") return null;
  return h("p", { "data-testid": "election-winners" }, h("strong", null, t("el.winners", { names: e.winners.map((w) => candidateName(e, w)).join(", ") })));
}

function card(e: ElectionOut): HTMLElement {
  const open = e.state === "Open";
  return h(
    "article",
    { class: "card", "data-testid": "election-card", "data-id": e.electionId },
    h(
      "header",
      { class: "card-head" },
      h("h3", null, h("a", { href: `#/elections/${e.electionId}` }, t("el.title", { id: e.electionId }), " · ", t(`el.kind.${e.kind}`))),
      h("div", { class: "badges" }, stateBadge(e)),
    ),
    h(
      "p",
      { class: "muted" },
      e.candidates.map((_, i) => candidateName(e, i)).join(" · "),
      h("br"),
      t("el.seats", { n: e.seats }),
      " · ",
      open || e.state === "Pending" ? t("el.closesAt", { when: when(e.closesAt) }) : t("el.closedAt", { when: when(e.closesAt) }),
      " · ",
      t("el.ballots", { n: e.ballotCount, of: e.rollSize }),
    ),
    winnersLine(e),
    h("p", null, h("a", { href: `#/elections/${e.electionId}`, class: "button-link" }, open ? t("el.readAndVote") : t("el.read"))),
  );
}

export async function electionsView(): Promise<HTMLElement> {
  const secret = secretVotesSection(); // fetched alongside; it shows its own refusal in place
  const page = await api<Page<ElectionOut>>(`/v1/elections?community=${communityId()}&limit=100`);
  const open = page.items.filter((e) => e.state === "Open" || e.state === "Pending");
  const done = page.items.filter((e) => !(e.state === "Open" || e.state === "Pending"));
  return h(
    "section",
    { "data-testid": "election-list" },
    h("h1", { tabindex: "-1" }, t("el.heading")),
    h("p", { class: "lead" }, t("el.intro")),
    h("h2", null, t("el.open"), " ", badge(String(open.length))),
    open.length ? open.map(card) : h("p", { class: "muted" }, t("el.noneOpen")),
    h("h2", null, t("el.results"), " ", badge(String(done.length))),
    done.length ? done.map(card) : h("p", { class: "muted" }, t("el.noneDone")),
    await secret,
  );
}

function candidates(e: ElectionOut): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-labelledby": "cand-h" },
    h("h2", { id: "cand-h" }, t("el.candidates")),
    h(
      "ol",
      { class: "candidates" },
      e.candidates.map((hash, i) => {
        const text = statement(e, i);
        const lines = text?.split(/\r?\n/).slice(1).join("\n").trim();
        const stored = e.statements[i];
        const ok = text !== null;
        return h(
          "li",
          { "data-testid": "candidate", "data-index": i },
          h("h3", null, candidateName(e, i)),
          lines ? h("p", { class: "fulltext", "data-testid": "candidate-statement" }, lines) : null,
          h(
            "p",
            { class: stored == null ? "muted" : ok ? "check check-ok" : "check check-bad", "data-testid": "statement-check", "data-ok": stored == null ? "unknown" : String(ok) },
            stored == null ? t("el.noStatement") : ok ? `✓ ${t("el.statementOk")}` : `✗ ${t("el.statementBad")}`,
            " ",
            h("details", null, h("summary", null, t("polish.details")), mono(hash, 10)),
          ),
        );
      }),
    ),
  );
}

// The outcome of the ballot just cast, shown once after the view is redrawn.
let ballotFlash: { electionId: number; receipt: ReceiptOut } | null = null;

/** The ranked ballot: each tap on an unranked candidate gives the next rank; a tap on a ranked
 * one takes them off and the ranks after it move up. */
function rankedChooser(e: ElectionOut, chosen: number[], redraw: (focus?: string) => void): HTMLElement {
  return h(
    "div",
    { class: "chooser", role: "group", "aria-labelledby": "ballot-hint" },
    h("p", { id: "ballot-hint", class: "hint" }, t("el.rankHint", { k: e.maxChoices })),
    h(
      "ul",
      { class: "rank-list" },
      e.candidates.map((_, i) => {
        const rank = chosen.indexOf(i) + 1;
        const full = rank === 0 && chosen.length >= e.maxChoices;
        return h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: `rank-candidate${rank ? " ranked" : ""}`,
              "data-testid": `rank-candidate-${i}`,
              "data-rank": rank,
              "aria-pressed": String(rank > 0),
              "aria-disabled": full ? "true" : null,
              onclick: () => {
                if (rank) chosen.splice(rank - 1, 1);
                else if (!full) chosen.push(i);
                redraw(`rank-candidate-${i}`);
              },
            },
            h("span", { class: "rank-mark", "aria-hidden": rank ? null : "true" }, rank ? t("el.rank", { n: rank }) : t("el.tapToRank")),
            h("span", { class: "rank-name" }, candidateName(e, i)),
          ),
        );
      }),
    ),
    h(
      "p",
      { class: "row" },
      h("span", { "data-testid": "rank-count", role: "status" }, t("el.ranked", { n: chosen.length, k: e.maxChoices }), chosen.length >= e.maxChoices ? [" ", t("el.full", { k: e.maxChoices })] : null),
      h(
        "button",
        { type: "button", class: "small secondary", "data-testid": "rank-clear", disabled: chosen.length === 0, onclick: () => (chosen.splice(0), redraw("rank-clear")) },
        t("el.clear"),
      ),
    ),
  );
}

/** The approval ballot: tick up to k candidates. */
function approvalChooser(e: ElectionOut, chosen: number[], redraw: (focus?: string) => void): HTMLElement {
  return h(
    "fieldset",
    { class: "chooser" },
    h("legend", null, t("el.approveHint", { k: e.maxChoices })),
    e.candidates.map((_, i) => {
      const ticked = chosen.includes(i);
      return h(
        "label",
        { class: "option" },
        h("input", {
          type: "checkbox",
          "data-testid": `approve-${i}`,
          checked: ticked,
          disabled: !ticked && chosen.length >= e.maxChoices,
          onchange: () => {
            if (ticked) chosen.splice(chosen.indexOf(i), 1);
            else chosen.push(i);
            chosen.sort((a, b) => a - b);
            redraw(`approve-${i}`);
          },
        }),
        " ",
        candidateName(e, i),
      );
    }),
    h("p", { "data-testid": "approve-count", role: "status" }, t("el.approvedCount", { n: chosen.length, k: e.maxChoices })),
  );
}

function votedNotice(e: ElectionOut, rerenderLine: HTMLElement | null): HTMLElement | null {
  const me = activeAddress();
  const mine = me ? electionReceipts().find((r) => r.electionId === e.electionId && r.voter === me && r.status !== "rejected") : undefined;
  if (!mine) return null;
  return h(
    "div",
    { class: rerenderLine ? "flash" : "notice", "data-testid": "already-voted" },
    h("p", null, h("strong", null, t("el.voted", { ballot: mine.read }))),
    h("p", { class: "muted" }, t("el.receipt"), " ", mono(mine.id), " · ", t("el.digest"), " ", mono(mine.digest, 8)),
    rerenderLine,
  );
}

/** Whose ballot the panel is filling in: the key holder's own, or a mandator's (cast by the key
 * holder as their proxy). */
interface BallotTarget {
  /** who the ballot is for, as shown above the chooser */
  who: () => HTMLElement;
  cast: (choices: bigint, read: string, line: HTMLElement) => Promise<void>;
}

/** Residents whose live mandate, for this election or for every vote, the key holder holds;
 * each with a button that opens the ballot for them. */
function mandatorsPanel(e: ElectionOut, me: string, castFor: ReadonlySet<string>, start: (resident: string) => void): HTMLElement {
  const list = h("ul", { class: "mandators", "data-testid": "mandators" });
  const section = h("div", { "data-testid": "election-mandators", hidden: true }, h("h3", null, t("eproxy.heading")), h("p", { class: "hint" }, t("eproxy.hint")), list);
  void api<HeldOut>(`/v1/communities/${e.communityId}/proxies/${me}`).then(
    (held) => {
      const here = held.mandates.filter((m) => m.scope === "AllVotes" || (m.scope === "Election" && m.voteId === e.electionId));
      if (here.length === 0) return;
      section.hidden = false;
      replace(
        list,
        ...here.map((m) =>
          h(
            "li",
            { "data-testid": "mandator", "data-resident": m.resident },
            person(e.communityId, m.resident),
            " · ",
            h("span", { class: "muted" }, t(`eproxy.scope.${m.scope}`)),
            " ",
            castFor.has(m.resident)
              ? h("span", { class: "check check-ok", "data-testid": "mandator-cast" }, `✓ ${t("eproxy.castFor")}`)
              : h("button", { type: "button", class: "small", "data-testid": "mandator-vote", onclick: () => start(m.resident) }, t("eproxy.voteFor")),
          ),
        ),
      );
    },
    () => undefined, // the resident's own ballot does not depend on it
  );
  return section;
}

// Mandators this browser cast for, per election, so the list says so after the redraw.
const castForMandators = new Map<number, Set<string>>();

function ballotPanel(e: ElectionOut, rerender: () => void): HTMLElement {
  const flashed = ballotFlash?.electionId === e.electionId ? ballotFlash : null;
  ballotFlash = null;
  let flashLine: HTMLElement | null = null;
  if (flashed) {
    flashLine = statusLine("ballot-status");
    showReceipt(flashLine, flashed.receipt);
  }
  const voted = votedNotice(e, flashLine);
  // Whose ballot and the choices so far ride on `data-draft`: the language and text-size toggles
  // redraw the view, and a half-made ranking must come back with it (drafts.ts).
  const body = h("div", { "data-testid": "ballot-body", "data-draft": "" });
  const chosen: number[] = [];
  const me = activeAddress();
  const castFor = castForMandators.get(e.electionId) ?? new Set<string>();
  castForMandators.set(e.electionId, castFor);

  const own: BallotTarget = {
    who: () => (me ? h("p", null, t("vote.as"), " ", person(e.communityId, me)) : h("p", { class: "notice" }, t("vote.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys")))),
    cast: async (choices, read, line) => {
      const wallet = await requireWallet();
      const { receipt, digest } = await castElectionBallot(wallet, e.electionId, choices);
      saveElectionReceipt({
        id: receipt.id,
        electionId: e.electionId,
        communityId: e.communityId,
        voter: wallet.address,
        read,
        choices: choices.toString(),
        digest,
        acceptedAt: receipt.acceptedAt,
        status: receipt.status,
        ack: receipt.ack ?? null,
      });
      const final = await track(receipt, line);
      updateElectionStatus(final.id, final.status);
      if (final.status === "counted") {
        await waitIndexed(final.block);
        ballotFlash = { electionId: e.electionId, receipt: final };
        rerender();
      }
    },
  };

  const forMandator = (resident: string): BallotTarget => ({
    who: () =>
      h(
        "div",
        { class: "notice", "data-testid": "voting-for", "data-resident": resident },
        h("p", null, h("strong", null, t("eproxy.votingFor"), " ", person(e.communityId, resident))),
        h("p", null, h("button", { type: "button", class: "small secondary", "data-testid": "voting-for-back", onclick: () => rerender() }, t("eproxy.back"))),
      ),
    cast: async (choices, _read, line) => {
      const wallet = await requireWallet();
      const { receipt } = await castElectionProxyBallot(wallet, e.electionId, resident, choices);
      const final = await track(receipt, line);
      if (final.status === "counted") {
        castFor.add(resident);
        await waitIndexed(final.block);
      }
    },
  });

  let target = own;
  let targetResident = "";

  const choose = (focus?: string): void => {
    body.dataset.draft = `${targetResident}|${chosen.join(",")}`;
    const chooser = e.kind === "Ranked" ? rankedChooser(e, chosen, choose) : approvalChooser(e, chosen, choose);
    const problem = h("p", { class: "status", role: "status", "data-testid": "ballot-problem" });
    replace(
      body,
      target.who(),
      chooser,
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            type: "button",
            "data-testid": "ballot-review-open",
            onclick: () => {
              if (chosen.length === 0) replace(problem, t("el.nothing"));
              else review();
            },
          },
          t("el.review"),
        ),
      ),
      problem,
    );
    if (focus) (body.querySelector(`[data-testid="${focus}"]`) as HTMLElement | null)?.focus();
  };

  const review = (): void => {
    const line = statusLine("ballot-status");
    const sign = h("button", { type: "button", "data-testid": "ballot-sign" }, t("el.sign"));
    const read = ballotText(e, chosen);
    const choices = e.kind === "Ranked" ? encodeRanking(chosen) : encodeApproval(chosen);
    const casting = target;
    sign.addEventListener("click", () => {
      void act(sign, line, async () => {
        await casting.cast(choices, read, line);
        return undefined;
      });
    });
    replace(
      body,
      h(
        "div",
        { class: "review", "data-testid": "ballot-review" },
        target === own ? null : target.who(),
        h("h3", { tabindex: "-1" }, t("el.reviewHeading")),
        h("p", null, e.kind === "Ranked" ? t("el.reviewRanked") : t("el.reviewApproval")),
        h(
          e.kind === "Ranked" ? "ol" : "ul",
          { class: "review-list" },
          chosen.map((c) => h("li", { "data-testid": "review-line" }, candidateName(e, c))),
        ),
        h("p", { class: "hint" }, t("vote.privacy")),
        h(
          "div",
          { class: "row" },
          h("button", { type: "button", class: "secondary", "data-testid": "ballot-change", onclick: () => choose("ballot-review-open") }, t("el.change")),
          sign,
        ),
        line,
      ),
    );
    (body.querySelector("h3") as HTMLElement | null)?.focus();
  };

  const start = (resident: string): void => {
    target = forMandator(resident);
    targetResident = resident;
    chosen.splice(0);
    choose();
    (body.querySelector('[data-testid="voting-for"]') as HTMLElement | null)?.scrollIntoView();
  };

  body.addEventListener("draft", () => {
    const [resident = "", list = ""] = (body.dataset.draft ?? "").split("|");
    const kept = keptChoices(list, e.candidates.length);
    if (kept === null || kept.length > e.maxChoices) return;
    if (resident) start(resident);
    else if (voted) return; // their own ballot is in: nothing to bring back
    chosen.splice(0, chosen.length, ...kept);
    choose();
  });

  if (voted) replace(body, voted);
  else choose();
  return h(
    "section",
    { class: "panel", "aria-labelledby": "ballot-h", "data-testid": "ballot" },
    h("h2", { id: "ballot-h" }, t("el.vote")),
    body,
    me ? mandatorsPanel(e, me, castFor, start) : null,
  );
}

/** Who was still in the running in `round` of `seat`: not elected to an earlier seat, not
 * eliminated in an earlier round of this one. */
function continuing(e: ElectionOut, seats: ElectionSeatOut[], seat: ElectionSeatOut, round: ElectionRoundOut): number[] {
  const out = new Set<number>();
  for (const s of seats) if (s.seat < seat.seat && s.elected !== null) out.add(s.elected);
  for (const r of seat.rounds) if (r.round < round.round && r.eliminated !== null) out.add(r.eliminated);
  return e.candidates.map((_, i) => i).filter((i) => !out.has(i));
}

function roundText(e: ElectionOut, seat: ElectionSeatOut, round: ElectionRoundOut, running: number[]): string {
  const parts = [t("el.roundLine", { round: round.round, tally: running.map((c) => `${candidateName(e, c)} ${t("el.votes", { n: round.tally[c] ?? 0 })}`).join(", ") })];
  if (round.transferredFrom !== null && round.received) {
    const moves = running.filter((c) => (round.received?.[c] ?? 0) > 0).map((c) => `+${round.received?.[c]} ${candidateName(e, c)}`);
    parts.push(t("el.roundFrom", { name: candidateName(e, round.transferredFrom), moves: moves.join(", ") || "—" }));
  }
  if (round.exhausted > 0) parts.push(t("el.roundExhausted", { n: round.exhausted }));
  if (round.eliminated !== null) parts.push(t("el.roundOut", { name: candidateName(e, round.eliminated) }));
  else if (seat.elected !== null) parts.push(t("el.roundWon", { name: candidateName(e, seat.elected) }));
  return parts.join(" ");
}

function roundChart(e: ElectionOut, seats: ElectionSeatOut[], seat: ElectionSeatOut, round: ElectionRoundOut): HTMLElement {
  const running = continuing(e, seats, seat, round);
  const last = round.eliminated === null;
  const bars: Bar[] = running.map((c) => ({
    label: candidateName(e, c),
    value: round.tally[c] ?? 0,
    tone: round.eliminated === c ? "out" : last && seat.elected === c ? "win" : "neutral",
    // What moved in is said in the round's sentence: the bar's figure stays short enough for a phone.
    text: t("el.votes", { n: round.tally[c] ?? 0 }),
  }));
  const title = t("el.roundTitle", { seat: seat.seat, round: round.round });
  return h(
    "figure",
    { class: "round", "data-testid": "round", "data-seat": seat.seat, "data-round": round.round },
    barChart(bars, { title, testid: "round-chart" }),
    h("figcaption", { "data-testid": "round-text" }, roundText(e, seat, round, running)),
  );
}

function seatResults(e: ElectionOut, seats: ElectionSeatOut[]): HTMLElement[] {
  return seats.map((seat) =>
    h(
      "section",
      { class: "seat", "data-testid": `seat-${seat.seat}` },
      h(
        "h3",
        null,
        seat.elected !== null ? t("el.seatWon", { seat: seat.seat, name: candidateName(e, seat.elected), votes: seat.votes ?? 0 }) : t("el.seatHeading", { seat: seat.seat }),
      ),
      seat.rounds.map((round) => roundChart(e, seats, seat, round)),
    ),
  );
}

function approvalResults(e: ElectionOut): HTMLElement {
  const bars: Bar[] = e.tally.map((n, i) => ({
    label: candidateName(e, i),
    value: n,
    tone: e.winners.includes(i) ? "win" : "neutral",
    text: t("el.approvals", { n }),
  }));
  return h("figure", { class: "round", "data-testid": "round" }, barChart(bars, { title: t("el.approvalTitle"), testid: "round-chart" }));
}

async function results(e: ElectionOut): Promise<HTMLElement> {
  const rounds = await api<ElectionRoundsOut>(`/v1/elections/${e.electionId}/rounds`);
  const base = `/v1/elections/${e.electionId}`;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "results-h", "data-testid": "results" },
    h("h2", { id: "results-h" }, t("el.resultsHeading")),
    winnersLine(e),
    rounds.seats.length === 0 ? h("p", { class: "muted" }, t("el.notCounted")) : e.kind === "Approval" ? approvalResults(e) : seatResults(e, rounds.seats),
    h(
      "p",
      { class: "muted" },
      t("el.downloads"),
      " ",
      h("a", { href: `${base}/ballots.csv`, download: "" }, t("el.ballotsCsv")),
      " · ",
      h("a", { href: `${base}/rounds.csv`, download: "" }, t("el.roundsCsv")),
    ),
  );
}

// "Finish the count" stops after this many steps (16 candidates, 15 seats: far more than any
// election of a roll the relay serves needs); the next press goes on from there.
const MOST_STEPS = 200;

/** One countStep, signed in the page by whoever pressed and relayed (the relay pays the gas);
 * the election as the index has it once the step is on-chain. */
async function countOneStep(e: ElectionOut, line: HTMLElement): Promise<ElectionOut> {
  const wallet = await requireWallet();
  const receipt = await relayed(line, async () =>
    api<ReceiptOut>("/v1/forward", { json: await signForward(wallet, "elections", "countStep", [e.electionId, COUNT_STEP_BALLOTS], FORWARD_GAS.countStep) }),
  );
  await waitIndexed(receipt.block);
  return api<ElectionOut>(`/v1/elections/${e.electionId}`);
}

/** A closed election's count, run by anyone: one step at a time, or every step to the end. */
function countPanel(e: ElectionOut, rerender: () => void): HTMLElement {
  const line = statusLine("count-status");
  const progress = h("p", { "data-testid": "count-progress", "aria-live": "polite" });
  const run = (button: HTMLButtonElement, most: number): void => {
    void act(button, line, async () => {
      for (let n = 1; n <= most; n++) {
        const now = await countOneStep(e, line);
        if (now.state === "Counted") {
          rerender();
          return undefined;
        }
        replace(progress, t("el.countStepDone", { n }));
      }
      return most > 1 ? t("el.countGoesOn") : undefined;
    });
  };
  const next: HTMLButtonElement = h("button", { type: "button", class: "secondary", "data-testid": "count-step", onclick: () => run(next, 1) }, t("el.countStep"));
  const finish: HTMLButtonElement = h("button", { type: "button", "data-testid": "count-finish", onclick: () => run(finish, MOST_STEPS) }, t("el.countFinish"));
  return h(
    "section",
    { class: "panel", "aria-labelledby": "count-h", "data-testid": "count" },
    h("h2", { id: "count-h" }, t("el.countHeading")),
    h("p", null, t("el.countIntro")),
    h("div", { class: "row" }, next, finish),
    progress,
    line,
  );
}

export async function electionView(params: string[], rerender: () => void): Promise<HTMLElement> {
  const e = await api<ElectionOut>(`/v1/elections/${Number(params[0])}`);
  const shown = e.state === "Pending" || e.state === "Open" ? null : h("div", null, loading());
  if (shown) {
    void results(e)
      .then((r) => replace(shown, r))
      .catch((error) => replace(shown, errorBox(error)));
  }
  return h(
    "section",
    { "data-testid": "election-detail", "data-id": e.electionId },
    h("p", null, h("a", { href: "#/elections" }, `← ${t("el.back")}`)),
    h("h1", { tabindex: "-1" }, t("el.title", { id: e.electionId }), " · ", t(`el.kind.${e.kind}`)),
    h("div", { class: "badges" }, stateBadge(e)),
    h(
      "p",
      { class: "muted" },
      t("el.seats", { n: e.seats }),
      " · ",
      t("el.opensAt", { when: when(e.opensAt) }),
      " · ",
      e.state === "Open" || e.state === "Pending" ? t("el.closesAt", { when: when(e.closesAt) }) : t("el.closedAt", { when: when(e.closesAt) }),
      " · ",
      t("el.ballots", { n: e.ballotCount, of: e.rollSize }),
      h("br"),
      h("span", { "data-testid": "el-channels" }, channelCounts(e)),
    ),
    candidates(e),
    e.state === "Open" ? ballotPanel(e, rerender) : null,
    e.state === "Closed" ? countPanel(e, rerender) : null,
    shown,
  );
}
