// A council proposal decided by secret ballot: its text is the secret vote's question and options
// (stored as JSON under the hash both commit to), and its ballots are cast on that vote's screen
// (#/secret/<id>), never as open ballots here.

import type { ProposalOut } from "../schemas";
import { h } from "../dom";
import { t } from "../i18n";

export function isSecret(p: ProposalOut): boolean {
  return p.kind === "SecretYesNoAbstain" || p.kind === "SecretMultipleChoice";
}

/** The secret vote's question and options, when the proposal's text is one. */
export function secretQuestion(p: ProposalOut): { question: string; options: string[] } | null {
  if (!isSecret(p) || p.text === null) return null;
  try {
    const data = JSON.parse(p.text) as { question?: unknown; options?: unknown };
    if (typeof data.question !== "string" || !Array.isArray(data.options)) return null;
    if (!data.options.every((o) => typeof o === "string")) return null;
    return { question: data.question, options: data.options as string[] };
  } catch {
    return null;
  }
}

/** A secret proposal's text shown as its question and numbered options (null: not one). */
export function secretText(p: ProposalOut): HTMLElement | null {
  const asked = secretQuestion(p);
  if (asked === null) return null;
  return h("div", null, h("p", null, asked.question), h("ol", null, asked.options.map((o) => h("li", null, o))));
}

/** Where a secret proposal's residents vote: a link to its secret vote, or why there is none. */
export function secretBallotPanel(p: ProposalOut): HTMLElement {
  const vote = p.secretVoteId;
  return h(
    "section",
    { class: "panel secret-proposal", "aria-labelledby": "secret-h", "data-testid": "secret-proposal" },
    h("h2", { id: "secret-h" }, t("sp.heading")),
    h("p", null, t("sp.explain")),
    vote !== null
      ? h("p", null, h("a", { href: `#/secret/${vote}`, class: "button-link", "data-testid": "secret-vote-link" }, t("sp.toVote", { id: vote })))
      : h("p", { class: "notice", "data-testid": "secret-vote-missing" }, t("sp.notLinked")),
  );
}
