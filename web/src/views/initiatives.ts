// Residents: put an initiative forward and co-sign others' (signed in the page, relayed); anyone
// sees each one's progress toward the threshold, and the proposal it became.

import { api } from "../api";
import type { InitiativeOut, Page } from "../schemas";
import { textIn } from "../bilingual";
import { barChart } from "../charts";
import { h } from "../dom";
import { Problem } from "../errors";
import { t } from "../i18n";
import { coSign, submitInitiative } from "../initiatives";
import { activeAddress } from "../keys";
import { person } from "../people";
import { communityId } from "../state";
import { act, badge, field, money, parseMoney, relayed, requireWallet, statusLine, waitIndexed, when } from "../ui";

const CURRENCIES = ["CNY", "HKD", "TWD", "USD", "EUR"];

function titleOf(i: InitiativeOut): string {
  const first = textIn(i.text ?? "").split(/\r?\n/)[0]?.trim() ?? "";
  if (!first) return t("ini.untitled", { id: i.id });
  return first.length > 90 ? `${first.slice(0, 88)}…` : first;
}

function progress(i: InitiativeOut): SVGElement {
  return barChart(
    [{ label: t("ini.progress", { n: i.coSignatures, needed: i.needed }), value: Math.min(i.coSignatures, i.needed), tone: i.state === "promoted" ? "win" : "in", text: `${i.coSignatures} / ${i.needed}` }],
    { title: t("ini.progressTitle", { id: i.id }), max: i.needed, testid: "initiative-progress" },
  );
}

function cosignPanel(i: InitiativeOut, rerender: () => void): HTMLElement | null {
  if (i.state !== "open") return null;
  const me = activeAddress();
  if (!me) return h("p", { class: "notice" }, t("ini.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys")));
  if (i.cosigned) return h("p", { class: "notice", "data-testid": "initiative-cosigned" }, `✓ ${t("ini.cosigned")}`);
  const line = statusLine("cosign-status");
  const button = h(
    "button",
    {
      type: "button",
      class: "big",
      "data-testid": "cosign",
      onclick: () =>
        void act(button, line, async () => {
          const wallet = await requireWallet();
          const done = await relayed(line, () => coSign(wallet, i.id));
          await waitIndexed(done.block);
          rerender();
        }),
    },
    t("ini.cosign"),
  );
  return h("div", null, h("p", { class: "hint" }, t("ini.cosignAs"), " ", person(i.communityId, me)), h("div", { class: "row" }, button), line);
}

function card(i: InitiativeOut, rerender: () => void): HTMLElement {
  const tone = { open: "info", promoted: "good", expired: "neutral" }[i.state];
  return h(
    "article",
    { class: "card", "data-testid": "initiative-card", "data-id": i.id, "data-state": i.state },
    h("header", { class: "card-head" }, h("h3", null, `#${i.id} · ${titleOf(i)}`), h("div", { class: "badges" }, badge(t(`ini.${i.state}`), tone, "initiative-state"))),
    i.text !== null ? h("details", null, h("summary", null, t("prop.fullText")), h("div", { class: "fulltext", lang: "" }, textIn(i.text))) : null,
    h(
      "p",
      { class: "muted" },
      t("ini.author"),
      " ",
      person(i.communityId, i.author),
      i.state === "open" ? [" · ", t("ini.closesAt", { when: when(i.closesAt) })] : null,
      i.state === "expired" ? [" · ", t("ini.closedAt", { when: when(i.closesAt) })] : null,
      i.budgetAmount ? [" · ", t("prop.budget"), " ", money(i.budgetAmount, i.budgetCurrency)] : null,
    ),
    progress(i),
    i.proposalId !== null ? h("p", null, h("a", { href: `#/proposals/${i.proposalId}`, class: "button-link", "data-testid": "initiative-proposal" }, t("ini.becameProposal", { id: i.proposalId }))) : null,
    cosignPanel(i, rerender),
  );
}

function submitForm(cid: number, rerender: () => void): HTMLElement {
  const text = h("textarea", { rows: 5, maxlength: 100_000, required: true, "data-testid": "initiative-text" });
  const budget = h("input", { type: "text", inputmode: "decimal", "data-testid": "initiative-budget" });
  const currency = h("select", { "data-testid": "initiative-currency" }, CURRENCIES.map((c) => h("option", { value: c }, c)));
  const line = statusLine("initiative-submit-status");
  const button = h("button", { type: "submit", class: "big", "data-testid": "initiative-submit" }, t("ini.submit"));
  return h(
    "form",
    {
      class: "panel",
      "aria-labelledby": "ini-new-h",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          if (!text.value.trim()) throw new Problem(t("ini.needText"));
          const amount = budget.value.trim() ? parseMoney(budget.value) : 0;
          if (amount === null) throw new Problem(t("ini.badBudget"));
          const wallet = await requireWallet();
          const done = await relayed(line, () => submitInitiative(wallet, cid, text.value, amount, currency.value));
          await waitIndexed(done.block);
          rerender();
        });
      },
    },
    h("h2", { id: "ini-new-h" }, t("ini.submitHeading")),
    field(t("ini.text"), text, t("ini.textHint")),
    h("div", { class: "row" }, field(t("ini.budget"), budget, t("ini.budgetHint")), field(t("ini.currency"), currency)),
    h("div", { class: "row" }, button),
    line,
  );
}

export async function initiativesView(rerender: () => void): Promise<HTMLElement> {
  const cid = communityId();
  const me = activeAddress();
  const page = await api<Page<InitiativeOut>>(`/v1/initiatives?community=${cid}&limit=100${me ? `&signer=${me}` : ""}`);
  const of = (state: InitiativeOut["state"]) => page.items.filter((i) => i.state === state);
  const section = (heading: string, items: InitiativeOut[], empty: string) => [
    h("h2", null, heading, " ", badge(String(items.length))),
    items.length ? items.map((i) => card(i, rerender)) : h("p", { class: "muted" }, empty),
  ];
  return h(
    "section",
    { "data-testid": "initiatives" },
    h("h1", { tabindex: "-1" }, t("ini.heading")),
    h("p", { class: "lead" }, t("ini.intro")),
    section(t("ini.open"), of("open"), t("ini.noneOpen")),
    me ? submitForm(cid, rerender) : h("p", { class: "notice" }, t("ini.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))),
    section(t("ini.promoted"), of("promoted"), t("ini.noneOther")),
    section(t("ini.expired"), of("expired"), t("ini.noneOther")),
  );
}
