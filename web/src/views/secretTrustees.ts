// A secret vote's trustees as the chain records them: each one's steps (key, shares, complaints,
// decryption part) for anyone to see whose part is still to come, and, for the reader who is a
// trustee, their next step, its deadline and the command that takes it (trustees act with
// `commons secret`, on the computer holding their encrypted trustee file).

import { h } from "../dom";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { person } from "../people";
import type { SecretTrusteeOut, SecretVoteOut } from "../schemas";
import { when } from "../ui";

export type TrusteeStep = "register" | "deal" | "check-deals" | "answer" | "close-keys" | "decrypt" | "finalize";

export interface NextStep {
  step: TrusteeStep;
  /** The step's deadline (unix seconds), or null when it has none. */
  by: number | null;
}

/** What trustee `k` (1-based) of `v` has to do now, or null when nothing is theirs to do. */
export function nextStep(v: SecretVoteOut, k: number): NextStep | null {
  const me = v.trusteeSteps.find((s) => s.trustee === k);
  if (!me || me.disqualified !== null) return null;
  switch (v.state) {
    case "Keys":
      return me.keyRegistered ? null : { step: "register", by: v.keysBy };
    case "Dealing":
      return me.dealt ? null : { step: "deal", by: v.dealsBy };
    case "Complaints":
      return { step: "check-deals", by: v.complaintsBy };
    case "Answers":
      return me.complaintsAnswered < me.complaintsAgainst ? { step: "answer", by: v.answersBy } : null;
    case "KeyPending":
      return { step: "close-keys", by: null };
    case "Decryption":
      if (v.partialsFrom.length >= v.threshold) return { step: "finalize", by: null };
      return v.qualified.includes(k) && !me.publishedPartial ? { step: "decrypt", by: null } : null;
    default:
      return null;
  }
}

/** The command line that takes `step` (the file and key are the trustee's own). */
export function stepCommand(v: SecretVoteOut, step: TrusteeStep): string {
  const anyone = step === "close-keys" || step === "finalize";
  return `commons secret ${step} ${v.voteId}${anyone ? "" : " --file TRUSTEE-FILE"} --key KEY`;
}

function mark(done: boolean, what: string): HTMLElement {
  return h("li", { "data-done": String(done) }, h("span", { "aria-hidden": "true" }, done ? "✓ " : "… "), what, ": ", done ? t("st.done") : t("st.notYet"));
}

function trusteeRow(v: SecretVoteOut, s: SecretTrusteeOut): HTMLElement {
  const afterKeys = !["Keys", "Dealing", "Complaints", "Answers", "KeyPending", "KeyFailed"].includes(v.state);
  const steps: HTMLElement[] = [mark(s.keyRegistered, t("st.key")), mark(s.dealt, t("st.dealt"))];
  if (s.complaintsAgainst > 0) steps.push(h("li", null, t("st.complaints", { n: s.complaintsAgainst, answered: s.complaintsAnswered })));
  if (afterKeys && v.qualified.includes(s.trustee)) steps.push(mark(s.publishedPartial, t("st.partial")));
  return h(
    "li",
    { "data-testid": "trustee", "data-trustee": s.trustee, "data-disqualified": s.disqualified ?? "" },
    h("strong", null, t("st.trustee", { k: s.trustee })),
    " ",
    person(v.communityId, s.address),
    s.disqualified ? h("p", { class: "check check-bad" }, t("st.out", { why: t(`st.why.${s.disqualified}`) })) : h("ul", { class: "plain steps" }, steps),
  );
}

/** The reader's own part, when the active key is one of `v`'s trustees with a step to take. */
function yourPart(v: SecretVoteOut): HTMLElement | null {
  const me = activeAddress();
  const k = me ? v.trustees.findIndex((a) => a.toLowerCase() === me.toLowerCase()) + 1 : 0;
  if (k === 0) return null;
  const next = nextStep(v, k);
  return h(
    "div",
    { class: "notice", "data-testid": "trustee-next", "data-step": next?.step ?? "" },
    h("p", null, h("strong", null, t("st.yours", { k }))),
    next ? h("p", null, t(`st.next.${next.step}`, { by: next.by === null ? "" : when(next.by) })) : null,
    next ? h("p", null, t("st.how"), " ", h("code", { class: "wrap-any", "data-testid": "trustee-command" }, stepCommand(v, next.step))) : null,
  );
}

export function trusteesPanel(v: SecretVoteOut): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-labelledby": "sv-trustees-h", "data-testid": "secret-trustees" },
    h("h2", { id: "sv-trustees-h" }, t("st.heading")),
    yourPart(v),
    h("p", { class: "muted" }, t("st.intro", { t: v.threshold, n: v.trustees.length })),
    h("ul", { class: "plain" }, v.trusteeSteps.map((s) => trusteeRow(v, s))),
  );
}
