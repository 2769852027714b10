// Secret votes: the community's list (a section of the elections tab) and one vote at
// #/secret/<id>. A resident chooses, the page encrypts and proves the choice here, and then either
// casts that ballot (signed with their key, relayed, and shown where it was counted) or checks it:
// the page opens that ballot with its own randomness and shows the choice it held, the ballot is
// spoiled and never sent, and the resident chooses again (Benaloh's cast-or-audit). Nothing of
// the count shows before the close; after the trustees' tally is final, the tally and how anyone
// can check it.

import { api } from "../api";
import { signForward } from "../chain";
import { FORWARD_GAS } from "../protocol";
import { textIn } from "../bilingual";
import { barChart, type Bar } from "../charts";
import { h, replace } from "../dom";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { person } from "../people";
import type { Page, ReceiptOut, SecretBallotInclusionOut, SecretTallyOut, SecretVoteOut, TextOut } from "../schemas";
import { type Asked, ballotHash, castSecretBallot, openSpoiled, readAsked, seal, statementFor } from "../secret_ballots";
import type { BallotStatement, SealedBallot } from "../secret/ballot";
import { communityId } from "../state";
import { trusteesPanel } from "./secretTrustees";
import { act, badge, errorBox, mono, relayed, requireWallet, statusLine, track, waitIndexed, when } from "../ui";

const SETTING_UP = new Set(["Keys", "Dealing", "Complaints", "Answers", "KeyPending"]);
const CLOSED = new Set(["Challenges", "Decryption", "Finalized"]);

function stateBadge(v: SecretVoteOut): HTMLElement {
  const tone = v.state === "Open" ? "info" : v.state === "Finalized" ? "good" : v.state === "KeyFailed" ? "bad" : CLOSED.has(v.state) ? "warn" : "neutral";
  return badge(t(`sv.state.${v.state}`), tone, "secret-state");
}

/** The question in the reader's language ("Secret vote n" when its text is not stored). */
function questionOf(v: SecretVoteOut, asked: Asked | null): string {
  const q = asked?.question ?? v.question;
  return q ? textIn(q) : t("sv.title", { id: v.voteId });
}

function optionName(v: SecretVoteOut, asked: Asked | null, j: number): string {
  const o = (asked?.options ?? v.options)?.[j];
  return o ? textIn(o) : t("sv.option", { n: j + 1 });
}

function schedule(v: SecretVoteOut): string {
  if (SETTING_UP.has(v.state) || v.state === "Pending") return t("sv.opensAt", { when: when(v.opensAt) });
  if (v.state === "Open") return t("sv.closesAt", { when: when(v.closesAt) });
  return t("sv.closedAt", { when: when(v.closesAt) });
}

function card(v: SecretVoteOut): HTMLElement {
  return h(
    "article",
    { class: "card", "data-testid": "secret-vote-card", "data-id": v.voteId },
    h(
      "header",
      { class: "card-head" },
      h("h3", null, h("a", { href: `#/secret/${v.voteId}` }, questionOf(v, null))),
      h("div", { class: "badges" }, badge(t("sv.secret"), "neutral"), stateBadge(v)),
    ),
    h("p", { class: "muted" }, schedule(v), " · ", t("sv.turnout", { n: v.castCount, of: v.rollSize })),
    h("p", null, h("a", { href: `#/secret/${v.voteId}`, class: "button-link" }, v.state === "Open" ? t("sv.readAndVote") : t("sv.read"))),
  );
}

/** The elections tab's section of secret votes (a refusal is shown in place, not for the tab). */
export async function secretVotesSection(): Promise<HTMLElement> {
  const section = h("section", { "data-testid": "secret-vote-list", "aria-labelledby": "secret-list-h" });
  try {
    const page = await api<Page<SecretVoteOut>>(`/v1/secret-votes?community=${communityId()}&limit=100`);
    replace(
      section,
      h("h2", { id: "secret-list-h" }, t("sv.heading"), " ", badge(String(page.items.length))),
      h("p", { class: "muted" }, t("sv.intro")),
      page.items.length ? page.items.map(card) : h("p", { class: "muted" }, t("sv.none")),
    );
  } catch (error) {
    replace(section, h("h2", { id: "secret-list-h" }, t("sv.heading")), errorBox(error));
  }
  return section;
}

async function storedQuestion(v: SecretVoteOut): Promise<{ asked: Asked | null; stored: boolean }> {
  const found = await api<TextOut | null>(`/v1/texts/${v.questionHash}`, { allow404: true }).catch(() => null);
  return { asked: found ? readAsked(found.text, v.questionHash) : null, stored: found !== null };
}

function questionPanel(v: SecretVoteOut, asked: Asked | null, stored: boolean): HTMLElement {
  const ok = asked !== null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "sv-options-h" },
    h("h2", { id: "sv-options-h" }, t("sv.options")),
    h(
      "ol",
      { class: "secret-options" },
      Array.from({ length: v.optionCount }, (_, j) => h("li", { "data-testid": "secret-option" }, optionName(v, asked, j))),
    ),
    h(
      "p",
      { class: !stored ? "muted" : ok ? "check check-ok" : "check check-bad", "data-testid": "question-check", "data-ok": stored ? String(ok) : "unknown" },
      !stored ? t("sv.questionMissing") : ok ? `✓ ${t("sv.questionOk")}` : `✗ ${t("sv.questionBad")}`,
      " ",
      h("details", null, h("summary", null, t("polish.details")), t("sv.questionBound"), " ", mono(v.questionHash, 10)),
    ),
  );
}

// The ballot just cast, shown once after the view is redrawn: its hash, to compare with the one
// the chain counted.
let castFlash: { voteId: number; hash: string; receipt: ReceiptOut } | null = null;

function inclusionPanel(v: SecretVoteOut, inclusion: SecretBallotInclusionOut): HTMLElement {
  const flashed = castFlash?.voteId === v.voteId ? castFlash : null;
  castFlash = null;
  const same = flashed ? flashed.hash.toLowerCase() === (inclusion.ballotHash ?? "").toLowerCase() : null;
  return h(
    "div",
    { class: flashed ? "flash" : "notice", "data-testid": "secret-counted", "data-voided": String(inclusion.voided) },
    h("p", null, h("strong", null, inclusion.voided ? t("sv.voided") : t("sv.counted"))),
    h(
      "p",
      { class: "muted" },
      t("sv.where", { block: inclusion.block ?? "—", batch: inclusion.batch ?? "—", position: inclusion.position === null ? "—" : inclusion.position + 1 }),
      " · ",
      t("sv.tx"),
      " ",
      mono(inclusion.txHash, 8),
      " · ",
      t("sv.fingerprint"),
      " ",
      mono(inclusion.ballotHash, 8),
    ),
    same === null ? null : h("p", { class: same ? "check check-ok" : "check check-bad", "data-testid": "secret-counted-same" }, same ? `✓ ${t("sv.sameBallot")}` : `✗ ${t("sv.otherBallot")}`),
    flashed ? h("p", { class: "muted" }, t("receipt.id"), " ", mono(flashed.receipt.id)) : null,
    h("p", { class: "hint" }, t("sv.secretKept")),
  );
}

/** One option's randomness and what it opened to, as the check shows it. */
function openedRow(v: SecretVoteOut, asked: Asked | null, sealed: SealedBallot, j: number, choice: number): HTMLElement {
  return h(
    "li",
    { "data-testid": "spoiled-option", "data-one": String(j === choice) },
    h("strong", null, optionName(v, asked, j)),
    ": ",
    j === choice ? t("sv.holdsOne") : t("sv.holdsZero"),
    h("br"),
    h("span", { class: "muted" }, t("sv.randomness"), " "),
    h("code", { class: "wrap-any", "data-testid": "spoiled-randomness" }, `0x${(sealed.randomness[j] as bigint).toString(16)}`),
  );
}

function ballotPanel(v: SecretVoteOut, asked: Asked | null, statement: BallotStatement, rerender: () => void): HTMLElement {
  const body = h("div", null);
  let spoiled = 0;

  const choose = (): void => {
    const problem = h("p", { class: "status", role: "status", "data-testid": "secret-problem" });
    const options = Array.from({ length: v.optionCount }, (_, j) =>
      h("label", { class: "option" }, h("input", { type: "radio", name: "secret-option", value: String(j), "data-testid": `secret-choice-${j}` }), " ", optionName(v, asked, j)),
    );
    const encryptButton = h("button", { type: "submit", "data-testid": "secret-encrypt" }, t("sv.encrypt"));
    const form = h(
      "form",
      {
        class: "vote",
        onsubmit: (event: Event) => {
          event.preventDefault();
          const picked = form.querySelector<HTMLInputElement>('input[name="secret-option"]:checked');
          if (!picked) {
            replace(problem, t("sv.nothing"));
            return;
          }
          const choice = Number(picked.value);
          const { sealed, ms } = seal(statement, choice);
          sealedStep(choice, sealed, ms);
        },
      },
      h("fieldset", null, h("legend", null, t("sv.choose")), options),
      h("p", { class: "hint" }, t("sv.encryptHint")),
      h("div", { class: "row" }, encryptButton),
      problem,
    );
    replace(body, spoiled ? h("p", { class: "notice", "data-testid": "secret-spoiled-count" }, t("sv.spoiledCount", { n: spoiled })) : null, form);
  };

  const sealedStep = (choice: number, sealed: SealedBallot, ms: number): void => {
    const line = statusLine("secret-status");
    const hash = ballotHash(sealed);
    const cast = h("button", { type: "button", "data-testid": "secret-cast" }, t("sv.cast"));
    const check = h("button", { type: "button", class: "secondary", "data-testid": "secret-check" }, t("sv.check"));
    cast.addEventListener("click", () => {
      // A ballot that may have reached the relay is never opened: its randomness would prove
      // the vote. If the cast fails, the same ballot can be cast again (the relay lands it once).
      check.disabled = true;
      void act(cast, line, async () => {
        const wallet = await requireWallet().catch((error: unknown) => {
          check.disabled = false; // not unlocked: nothing was sent
          throw error;
        });
        const receipt = await castSecretBallot(wallet, v, sealed);
        const final = await track(receipt, line);
        if (final.status === "counted") {
          await waitIndexed(final.block);
          castFlash = { voteId: v.voteId, hash, receipt: final };
          rerender();
        }
        return undefined;
      });
    });
    check.addEventListener("click", () => checkedStep(choice, sealed));
    replace(
      body,
      h(
        "div",
        { class: "review", "data-testid": "secret-sealed", "data-ms": ms.toFixed(1), "data-hash": hash },
        h("h3", { tabindex: "-1" }, t("sv.sealedHeading")),
        h("p", null, t("sv.sealed", { ms: ms.toFixed(0) })),
        h("p", null, t("sv.fingerprint"), " ", h("code", { class: "wrap-any", "data-testid": "secret-fingerprint" }, hash)),
        h("p", null, t("sv.castOrCheck")),
        h("p", { class: "hint" }, t("sv.privacy")),
        h("div", { class: "row" }, check, cast),
        line,
      ),
    );
    (body.querySelector("h3") as HTMLElement | null)?.focus();
  };

  const checkedStep = (choice: number, sealed: SealedBallot): void => {
    spoiled += 1;
    let opened: number | null = null;
    try {
      opened = openSpoiled(statement, sealed);
    } catch {
      opened = null;
    }
    const same = opened === choice;
    const again = h("button", { type: "button", "data-testid": "secret-again", onclick: () => choose() }, t("sv.again"));
    replace(
      body,
      h(
        "div",
        { class: "review", "data-testid": "secret-checked", "data-same": String(same), "data-opened": opened ?? "" },
        h("h3", { tabindex: "-1" }, t("sv.checkedHeading")),
        h(
          "p",
          { class: same ? "check check-ok" : "check check-bad", "data-testid": "secret-opened" },
          opened === null ? `✗ ${t("sv.openedNothing")}` : same ? `✓ ${t("sv.openedSame", { option: optionName(v, asked, opened) })}` : `✗ ${t("sv.openedOther", { option: optionName(v, asked, opened) })}`,
        ),
        h("p", null, t("sv.fingerprint"), " ", h("code", { class: "wrap-any" }, ballotHash(sealed))),
        h("ul", { class: "spoiled" }, Array.from({ length: v.optionCount }, (_, j) => openedRow(v, asked, sealed, j, opened ?? -1))),
        h("p", { class: "notice", "data-testid": "secret-spoiled" }, t("sv.spoiled")),
        h("div", { class: "row" }, again),
      ),
    );
    (body.querySelector("h3") as HTMLElement | null)?.focus();
  };

  choose();
  return h("section", { class: "panel", "aria-labelledby": "sv-ballot-h", "data-testid": "secret-ballot" }, h("h2", { id: "sv-ballot-h" }, t("sv.vote")), body);
}

async function votingPanel(v: SecretVoteOut, asked: Asked | null, stored: boolean, rerender: () => void): Promise<HTMLElement> {
  const me = activeAddress();
  const heading = h("h2", { id: "sv-ballot-h" }, t("sv.vote"));
  const panel = (...children: (HTMLElement | string | null)[]): HTMLElement =>
    h("section", { class: "panel", "aria-labelledby": "sv-ballot-h", "data-testid": "secret-ballot" }, heading, ...children);
  if (!me) return panel(h("p", { class: "notice" }, t("vote.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))));
  const inclusion = await api<SecretBallotInclusionOut>(`/v1/secret-votes/${v.voteId}/ballots/${me}`);
  if (inclusion.voted) return panel(inclusionPanel(v, inclusion));
  // A ballot is bound to the question's hash: without the text it commits to, the resident
  // would not know what they encrypt.
  if (stored && asked === null) return panel(h("p", { class: "check check-bad" }, t("sv.questionBad")));
  const statement = statementFor(v, me);
  if (!statement) return panel(h("p", { class: "muted" }, t("sv.noKey")));
  const ballot = ballotPanel(v, asked, statement, rerender);
  ballot.insertBefore(h("p", null, t("vote.as"), " ", person(v.communityId, me)), ballot.children[1] ?? null);
  return ballot;
}

async function myInclusion(v: SecretVoteOut): Promise<HTMLElement | null> {
  const me = activeAddress();
  if (!me) return null;
  const inclusion = await api<SecretBallotInclusionOut>(`/v1/secret-votes/${v.voteId}/ballots/${me}`);
  return inclusion.voted ? inclusionPanel(v, inclusion) : null;
}

function tallyPanel(v: SecretVoteOut, asked: Asked | null): HTMLElement {
  const tally = v.tally ?? [];
  const top = Math.max(...tally);
  const bars: Bar[] = tally.map((n, j) => ({ label: optionName(v, asked, j), value: n, tone: n === top && n > 0 ? "win" : "neutral", text: t("sv.votes", { n }) }));
  return h(
    "section",
    { class: "panel", "aria-labelledby": "sv-tally-h", "data-testid": "secret-tally" },
    h("h2", { id: "sv-tally-h" }, t("sv.tallyHeading")),
    barChart(bars, { title: t("sv.tallyTitle", { n: v.ballotCount ?? 0 }), testid: "secret-tally-chart" }),
    h(
      "ul",
      { class: "plain" },
      tally.map((n, j) => h("li", { "data-testid": "secret-tally-line", "data-option": j, "data-votes": n }, `${optionName(v, asked, j)}: ${t("sv.votes", { n })}`)),
    ),
    h("p", { class: "muted" }, t("sv.tallyBy", { t: v.threshold, n: v.trustees.length, from: v.partialsFrom.join(", ") || "—" })),
    h("p", { "data-testid": "secret-verify" }, t("sv.verify"), " ", h("code", null, "commons audit")),
  );
}

function closedPanel(v: SecretVoteOut): HTMLElement {
  return h(
    "section",
    { class: "panel", "data-testid": "secret-closed" },
    h("p", null, t(v.state === "Challenges" ? "sv.inChallenges" : "sv.inDecryption", {
        n: v.ballotCount ?? 0,
        voided: v.voidedCount,
        until: when(v.challengesUntil),
        t: v.threshold,
        from: v.partialsFrom.join(", ") || "—",
      })),
  );
}

/** A step anyone with a key may take for the vote (the relay pays): closing the key generation
 * once the trustees' windows are past, recording the count once t trustees have published. */
function anyoneStep(v: SecretVoteOut, rerender: () => void): HTMLElement | null {
  const record = v.state === "Decryption" && v.partialsFrom.length >= v.threshold;
  if (!record && v.state !== "KeyPending") return null;
  const [heading, intro, label] = record
    ? ["sv.recordHeading", "sv.recordIntro", "sv.recordButton"]
    : ["sv.closeKeysHeading", "sv.closeKeysIntro", "sv.closeKeysButton"];
  const line = statusLine("secret-step-status");
  const button: HTMLButtonElement = h(
    "button",
    {
      type: "button",
      "data-testid": "secret-step",
      onclick: () =>
        void act(button, line, async () => {
          const wallet = await requireWallet();
          // The count comes from the API, which anyone may doubt: the contract checks it against
          // the aggregate and the trustees' proven parts before it keeps it.
          const [fn, args, gas] = record
            ? (["finalizeSecretVote", [v.voteId, (await api<SecretTallyOut>(`/v1/secret-votes/${v.voteId}/tally`)).tally], FORWARD_GAS.finalizeSecretVote] as const)
            : (["closeKeyGeneration", [v.voteId], FORWARD_GAS.closeKeyGeneration] as const);
          const done = await relayed(line, async () => api<ReceiptOut>("/v1/forward", { json: await signForward(wallet, "secret", fn, args, gas) }));
          await waitIndexed(done.block);
          rerender();
          return undefined;
        }),
    },
    t(label),
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "sv-step-h", "data-testid": "secret-anyone-step", "data-step": record ? "finalize" : "close-keys" },
    h("h2", { id: "sv-step-h" }, t(heading)),
    h("p", null, t(intro)),
    h("div", { class: "row" }, button),
    line,
  );
}

function notYetPanel(v: SecretVoteOut): HTMLElement {
  const key = v.state === "KeyFailed" ? "sv.keyFailed" : SETTING_UP.has(v.state) ? "sv.settingUp" : "sv.pending";
  return h("p", { class: "notice", "data-testid": "secret-not-open" }, t(key, { when: when(v.opensAt) }));
}

async function stagePanels(v: SecretVoteOut, asked: Asked | null, stored: boolean, rerender: () => void): Promise<(HTMLElement | null)[]> {
  if (v.state === "Open") return [await votingPanel(v, asked, stored, rerender)];
  if (v.state === "Finalized") return [tallyPanel(v, asked), await myInclusion(v)];
  if (CLOSED.has(v.state)) return [closedPanel(v), await myInclusion(v)];
  return [notYetPanel(v)];
}

export async function secretVoteView(params: string[], rerender: () => void): Promise<HTMLElement> {
  const v = await api<SecretVoteOut>(`/v1/secret-votes/${Number(params[0])}`);
  const { asked, stored } = await storedQuestion(v);
  return h(
    "section",
    { "data-testid": "secret-vote", "data-id": v.voteId, "data-state": v.state },
    h("p", null, h("a", { href: "#/elections" }, `← ${t("sv.back")}`)),
    h("h1", { tabindex: "-1" }, questionOf(v, asked)),
    h("div", { class: "badges" }, badge(t("sv.secret"), "neutral"), stateBadge(v)),
    h(
      "p",
      { class: "muted" },
      t("sv.title", { id: v.voteId }),
      " · ",
      schedule(v),
      " · ",
      t("sv.turnout", { n: v.castCount, of: v.rollSize }),
      " · ",
      t("sv.trustees", { t: v.threshold, n: v.trustees.length }),
    ),
    v.state === "Finalized" ? null : h("p", { class: "hint", "data-testid": "secret-no-result" }, t("sv.noResultYet")),
    questionPanel(v, asked, stored),
    ...(await stagePanels(v, asked, stored, rerender)),
    anyoneStep(v, rerender),
    trusteesPanel(v),
  );
}
