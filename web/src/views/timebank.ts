// Time bank: log a service you gave (your signed half), confirm services others logged for you
// (the other half), and see balances. Minutes move only when both sides have signed.

import { getAddress } from "ethers";
import { allPages, api } from "../api";
import type { BalanceOut, EventOut, Page, PendingServiceOut, ReceiptOut } from "../schemas";
import { COMMUNITY_ACCOUNT, categoryCode, categoryLabel, signService, signedIn, textHash } from "../chain";
import { h, replace } from "../dom";
import { Problem } from "../errors";
import { t, tOr } from "../i18n";
import { activeAddress } from "../keys";
import { person, personPicker } from "../people";
import { rememberServiceNonce, usedServiceNonces } from "../receipts";
import { communityId, standing } from "../state";
import { act, badge, cardTable, errorBox, field, loading, mono, relayed, requireWallet, statusLine, when } from "../ui";
import { carriedOverNote } from "./rotation";

const CATEGORIES = ["CARE", "REPAIR", "TEACH", "GARDEN", "ERRAND", "COOK", "OTHER"];

async function nextNonce(cid: number, provider: string): Promise<number> {
  const records = await allPages<EventOut>(`/v1/communities/${cid}/services`);
  const used = records.filter((e) => e.event === "ServiceRecorded" && e.args.provider === provider).map((e) => Number(e.args.nonce));
  return Math.max(0, ...used, ...usedServiceNonces(cid, provider)) + 1;
}

function minutesText(m: number): string {
  return t("tb.minutes", { n: m });
}

function logForm(me: string | null, cid: number): HTMLElement {
  const recipient = personPicker(cid, t("tb.recipient"), "svc-recipient");
  const toCommunity = h("input", { type: "checkbox", "data-testid": "svc-community" });
  const minutes = h("input", { type: "number", min: 1, max: 6000, step: 1, value: 60, required: true, "data-testid": "svc-minutes" });
  const category = h("select", { "data-testid": "svc-category" }, CATEGORIES.map((c) => h("option", { value: c }, t(`cat.${c}`))));
  const note = h("textarea", { rows: 2, maxlength: 500, "data-testid": "svc-note" });
  const line = statusLine("svc-log-status");
  const button = h("button", { type: "submit", "data-testid": "svc-log-submit" }, t("tb.logSign"));
  toCommunity.addEventListener("change", () => {
    recipient.setDisabled(toCommunity.checked);
  });
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const wallet = await requireWallet();
          const to = toCommunity.checked ? COMMUNITY_ACCOUNT : recipient.value();
          if (to === null) throw new Problem(t("names.noPerson"));
          const provider = getAddress(wallet.address);
          const nonce = await nextNonce(cid, provider);
          const record = {
            provider,
            recipient: getAddress(to),
            minutesServed: Number(minutes.value),
            category: categoryCode(category.value),
            noteHash: textHash(note.value),
            nonce,
          };
          if (!Number.isInteger(record.minutesServed) || record.minutesServed < 1) throw new RangeError(t("tb.minutesLabel"));
          const providerSig = await signService(wallet, cid, record);
          const token = await signedIn(wallet);
          const logged = await api<PendingServiceOut>("/v1/services/pending", { json: { communityId: cid, record, providerSig }, token });
          rememberServiceNonce(cid, provider, nonce);
          note.value = "";
          line.dataset.status = "logged";
          return [t("tb.logged"), " ", mono(logged.id, 10)];
        });
      },
    },
    h("h2", null, t("tb.logHeading")),
    h("p", { class: "hint" }, t("tb.logHint")),
    me ? null : h("p", { class: "notice" }, t("vote.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))),
    recipient.element,
    h("label", { class: "option" }, toCommunity, " ", t("tb.toCommunity")),
    field(t("tb.minutesLabel"), minutes),
    field(t("tb.category"), category),
    field(t("tb.note"), note, t("tb.noteHint")),
    h("div", { class: "row" }, button),
    line,
  );
}

function pendingCard(item: PendingServiceOut, cid: number, onDone: () => void): HTMLElement {
  const line = statusLine("svc-confirm-status");
  const button = h("button", { type: "button", "data-testid": "svc-confirm" }, t("tb.confirmSign"));
  button.addEventListener("click", () => {
    void act(button, line, async () => {
      const wallet = await requireWallet();
      const recipientSig = await signService(wallet, cid, item.record);
      await relayed(line, () => api<ReceiptOut>(`/v1/services/pending/${item.id}/confirm`, { json: { recipientSig } }));
      onDone();
      return undefined;
    });
  });
  const r = item.record;
  return h(
    "article",
    { class: "card", "data-testid": "svc-pending", "data-id": item.id },
    h(
      "p",
      null,
      person(cid, r.provider),
      " → ",
      r.recipient === COMMUNITY_ACCOUNT ? t("tb.communityAccount") : person(cid, r.recipient),
      " · ",
      h("strong", null, minutesText(r.minutesServed)),
      " · ",
      tOr(`cat.${categoryLabel(r.category)}`, categoryLabel(r.category)),
    ),
    h("p", { class: "muted" }, when(item.createdAt)),
    h("details", null, h("summary", null, t("polish.details")), h("p", { class: "muted" }, t("tb.noteHash"), " ", mono(r.noteHash, 8))),
    h("div", { class: "row" }, button),
    line,
  );
}

async function pendingSection(me: string, cid: number, rerender: () => void): Promise<HTMLElement> {
  const s = await standing(me, cid);
  const mine = await api<Page<PendingServiceOut>>(`/v1/services/pending?recipient=${me}`);
  const forCommunity = s.coordinator ? await api<Page<PendingServiceOut>>(`/v1/services/pending?recipient=${COMMUNITY_ACCOUNT}`) : null;
  const items = [...mine.items, ...(forCommunity?.items ?? [])].filter((i) => i.communityId === cid);
  return h(
    "section",
    { class: "panel", "data-testid": "svc-pending-list" },
    h("h2", null, t("tb.pendingHeading"), " ", badge(String(items.length))),
    h("p", { class: "hint" }, s.coordinator ? t("tb.pendingHintCoord") : t("tb.pendingHint")),
    items.length ? items.map((i) => pendingCard(i, cid, rerender)) : h("p", { class: "muted" }, t("tb.noPending")),
  );
}

async function recent(cid: number): Promise<HTMLElement> {
  const page = await api<Page<EventOut>>(`/v1/communities/${cid}/services?limit=200`);
  const rows = page.items.slice(-20).reverse();
  return h(
    "section",
    { class: "panel", "data-testid": "svc-records" },
    h("h2", null, t("tb.recent"), " ", badge(String(page.total))),
    h(
      "div",
      { class: "table-wrap" },
      cardTable(h(
        "table",
        null,
        h("thead", null, h("tr", null, ["tb.provider", "tb.recipient", "tb.minutesLabel", "tb.category", "receipt.block"].map((k) => h("th", { scope: "col" }, t(k))))),
        h(
          "tbody",
          null,
          rows.map((e) =>
            h(
              "tr",
              null,
              h("td", null, person(cid, String(e.args.provider))),
              h("td", null, e.args.recipient === COMMUNITY_ACCOUNT ? t("tb.communityAccount") : person(cid, String(e.args.recipient))),
              h("td", null, `${e.event === "ServiceReversed" ? "−" : ""}${String(e.args.minutesServed)}`),
              h("td", null, e.args.category ? tOr(`cat.${categoryLabel(String(e.args.category))}`, categoryLabel(String(e.args.category))) : t("tb.reversal")),
              h("td", null, String(e.block)),
            ),
          ),
        ),
      )),
    ),
  );
}

export async function timebankView(rerender: () => void): Promise<HTMLElement> {
  const cid = communityId();
  const me = activeAddress();
  const balance = me ? await api<BalanceOut>(`/v1/communities/${cid}/balances/${me}`) : null;
  const pending = h("div", null, me ? loading() : null);
  const records = h("div", null, loading());
  if (me) void pendingSection(me, cid, rerender).then((n) => replace(pending, n), (e) => replace(pending, errorBox(e)));
  // Where a replaced key's balance came from (a lost or new phone).
  const carried = h("div", null);
  if (me) void carriedOverNote(cid, me).then((n) => replace(carried, n), (e) => replace(carried, errorBox(e)));
  void recent(cid).then((n) => replace(records, n), (e) => replace(records, errorBox(e)));
  return h(
    "section",
    { "data-testid": "timebank" },
    h("h1", { tabindex: "-1" }, t("tb.heading")),
    h("p", { class: "lead" }, t("tb.intro")),
    balance
      ? h(
          "p",
          { class: "big", "data-testid": "tb-balance", "data-minutes": balance.minutes },
          t("tb.balance"),
          " ",
          h("strong", null, minutesText(balance.minutes)),
          " ",
          person(cid, balance.account),
        )
      : h("p", { class: "notice" }, t("vote.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))),
    carried,
    h("div", { class: "grid" }, logForm(me, cid), pending),
    records,
  );
}
