// Committee members: open proposals, publish results, record execution milestones, open grants,
// and request / approve / execute payouts. Each action is an ERC-2771 forward request signed in
// this page with the member's own key; the relay pays the gas and the contract sees the member.

import { getAddress } from "ethers";
import { allPages, api } from "../api";
import type { CompletedProjectsOut, FundOut, GrantOut, Page, PayoutOut, ProposalOut, ReceiptOut, TextOut, TrailEntryOut } from "../schemas";
import { bytesHash, currencyBytes, forward, textHash } from "../chain";
import { h, replace, type Child } from "../dom";
import { Problem } from "../errors";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { person, personPicker } from "../people";
import { communityId, standing } from "../state";
import { act, badge, cardTable, errorBox, field, loading, money, mono, parseMoney, relayed, requireWallet, statusLine, waitIndexed } from "../ui";
import { optionLabel, title } from "./proposals";
import { projectWork, proposalWork, type RatedWork, rated, ratingSummary, ratingsOf } from "./ratings";

interface Flash {
  action: string;
  content: Child;
}
let flash: Flash | null = null;

/** Sign and relay one call, wait until it is on-chain and indexed, then show `done`. */
async function run(
  action: string,
  line: HTMLElement,
  target: Parameters<typeof forward>[1],
  fn: string,
  args: readonly unknown[],
  rerender: () => void,
  done: (receipt: ReceiptOut) => Promise<Child> | Child,
): Promise<void> {
  const wallet = await requireWallet();
  const receipt = await relayed(line, () => forward(wallet, target, fn, args));
  await waitIndexed(receipt.block);
  flash = { action, content: await done(receipt) };
  rerender();
}

function select(testid: string, items: { value: string | number; label: string }[], empty: string): HTMLSelectElement {
  return h(
    "select",
    { "data-testid": testid, required: true },
    items.length ? items.map((i) => h("option", { value: String(i.value) }, i.label)) : h("option", { value: "" }, empty),
  );
}

function openProposalForm(cid: number, fund: FundOut | null, rerender: () => void): HTMLElement {
  const text = h("textarea", { rows: 6, required: true, maxlength: 100_000, "data-testid": "op-text" });
  const kind = h("select", { "data-testid": "op-kind" }, h("option", { value: "0" }, t("op.kindYesNo")), h("option", { value: "1" }, t("op.kindMulti")));
  const options = h("input", { type: "number", min: 2, max: 8, value: 3, disabled: true, "data-testid": "op-options" });
  kind.addEventListener("change", () => {
    options.disabled = kind.value === "0";
    if (options.disabled) options.value = "3";
  });
  const period = h("input", { type: "number", min: 1, value: 7, required: true, "data-testid": "op-period" });
  const unit = h("select", { "data-testid": "op-unit" }, ["minutes", "hours", "days"].map((u) => h("option", { value: u, selected: u === "days" }, t(`op.${u}`))));
  const quorum = h("input", { type: "number", min: 0, max: 100, step: "0.01", value: 30, required: true, "data-testid": "op-quorum" });
  const threshold = h("input", { type: "number", min: 50, max: 99.99, step: "0.01", value: 50, required: true, "data-testid": "op-threshold" });
  const budget = h("input", { type: "text", inputmode: "decimal", placeholder: "0.00", "data-testid": "op-budget" });
  const currency = h("input", { type: "text", maxlength: 3, value: fund?.currency || "CNY", pattern: "[A-Z]{3}", "data-testid": "op-currency" });
  const line = statusLine("op-status");
  const button = h("button", { type: "submit", "data-testid": "op-submit" }, t("op.sign"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const body = text.value;
          const amount = budget.value.trim() ? parseMoney(budget.value) : 0;
          if (amount === null) throw new RangeError(t("op.budget"));
          const seconds = Number(period.value) * { minutes: 60, hours: 3600, days: 86_400 }[unit.value as "minutes"];
          const now = Math.floor(Date.now() / 1000);
          const wallet = await requireWallet();
          // The text is stored first; its hash is what the proposal commits to on-chain, and the
          // page checks the service stored exactly what was typed.
          const stored = await api<TextOut>("/v1/texts", { json: { text: body } });
          if (stored.hash.toLowerCase() !== textHash(body)) throw new Problem(t("op.hashMismatch"));
          const params = [
            cid,
            stored.hash,
            Number(kind.value),
            Number(options.value),
            now - 60,
            now + seconds,
            Math.round(Number(quorum.value) * 100),
            Math.round(Number(threshold.value) * 100),
            amount,
            amount ? currencyBytes(currency.value.trim().toUpperCase()) : "0x000000",
          ];
          const me = getAddress(wallet.address);
          await relayed(line, () => forward(wallet, "council", "openProposal", [params]));
          const id = await findProposal(cid, stored.hash, me);
          text.value = "";
          flash = {
            action: "open",
            content: [t("op.done"), " ", id ? h("a", { href: `#/proposals/${id}`, "data-testid": "op-proposal-link", "data-id": id }, `#${id}`) : null],
          };
          rerender();
        });
      },
    },
    h("h2", null, t("op.heading")),
    field(t("op.text"), text, t("op.textHint")),
    h("div", { class: "inline" }, field(t("op.kind"), kind), field(t("op.options"), options)),
    h("div", { class: "inline" }, field(t("op.period"), period), field(t("op.unit"), unit)),
    h("div", { class: "inline" }, field(t("op.quorum"), quorum, t("op.quorumHint")), field(t("op.threshold"), threshold, t("op.thresholdHint"))),
    h("div", { class: "inline" }, field(t("op.budget"), budget, t("op.budgetHint")), field(t("op.currency"), currency)),
    h("div", { class: "row" }, button),
    line,
  );
}

async function findProposal(cid: number, hash: string, proposer: string): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    const page = await api<Page<ProposalOut>>(`/v1/proposals?community=${cid}&limit=20`);
    const found = page.items.find((p) => p.textHash.toLowerCase() === hash.toLowerCase() && p.proposer === proposer);
    if (found) return found.id;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

function finalizeForm(proposals: ProposalOut[], rerender: () => void): HTMLElement {
  // Closed proposals (ready to publish) first, then those still open.
  const candidates = proposals.filter((p) => p.state !== "Finalized").sort((a, b) => Number(b.state === "Closed") - Number(a.state === "Closed") || b.id - a.id);
  const choice = select(
    "fin-proposal",
    candidates.map((p) => ({ value: p.id, label: `#${p.id} · ${t(`state.${p.state}`)} · ${title(p)}` })),
    t("fin.none"),
  );
  const line = statusLine("fin-status");
  const button = h("button", { type: "submit", "data-testid": "fin-submit", disabled: !candidates.length }, t("fin.sign"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const id = Number(choice.value);
        void act(button, line, () =>
          run("finalize", line, "council", "finalize", [id], rerender, async () => {
            const p = await api<ProposalOut>(`/v1/proposals/${id}`);
            return [
              t("fin.done", { id }),
              " ",
              h("a", { href: `#/proposals/${id}`, "data-testid": "fin-outcome", "data-outcome": p.outcome }, t(`outcome.long.${p.outcome}`, { option: optionLabel(p, p.winningOption) })),
            ];
          }),
        );
      },
    },
    h("h2", null, t("fin.heading")),
    h("p", { class: "hint" }, t("fin.hint")),
    field(t("fin.proposal"), choice),
    h("div", { class: "row" }, button),
    line,
  );
}

function milestoneForm(proposals: ProposalOut[], rerender: () => void): HTMLElement {
  const candidates = proposals.filter((p) => p.outcome === "Passed" && p.execution !== "Completed");
  const choice = select("ms-proposal", candidates.map((p) => ({ value: p.id, label: `#${p.id} · ${title(p)}` })), t("ms.none"));
  const evidence = h("textarea", { rows: 2, maxlength: 5000, "data-testid": "ms-evidence" });
  const file = h("input", { type: "file", "data-testid": "ms-file" });
  const completed = h("input", { type: "checkbox", "data-testid": "ms-completed" });
  const line = statusLine("ms-status");
  const button = h("button", { type: "submit", "data-testid": "ms-submit", disabled: !candidates.length }, t("ms.sign"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const id = Number(choice.value);
        void act(button, line, async () => {
          const chosen = file.files?.[0];
          // Evidence is hashed here; the file or text itself stays with the member.
          const hash = chosen ? await bytesHash(await chosen.arrayBuffer()) : evidence.value.trim() ? textHash(evidence.value) : null;
          if (!hash) throw new Problem(t("ms.noEvidence"));
          await run("milestone", line, "council", "recordMilestone", [id, hash, completed.checked], rerender, () => [
            t("ms.done", { id }),
            " ",
            mono(hash, 10),
          ]);
        });
      },
    },
    h("h2", null, t("ms.formHeading")),
    field(t("fin.proposal"), choice),
    field(t("ms.evidenceText"), evidence, t("ms.evidenceHint")),
    field(t("ms.evidenceFile"), file),
    h("label", { class: "option" }, completed, " ", t("ms.completed")),
    h("div", { class: "row" }, button),
    line,
  );
}

function grantForm(proposals: ProposalOut[], grants: Map<number, GrantOut>, rerender: () => void): HTMLElement {
  const candidates = proposals.filter((p) => p.outcome === "Passed" && p.budgetAmount > 0 && !grants.has(p.id));
  const choice = select(
    "grant-proposal",
    candidates.map((p) => ({ value: p.id, label: `#${p.id} · ${money(p.budgetAmount, p.budgetCurrency)} · ${title(p)}` })),
    t("grant.none"),
  );
  const amount = h("input", { type: "text", inputmode: "decimal", placeholder: t("grant.fullBudget"), "data-testid": "grant-amount" });
  const line = statusLine("grant-status");
  const button = h("button", { type: "submit", "data-testid": "grant-submit", disabled: !candidates.length }, t("grant.sign"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const p = candidates.find((x) => x.id === Number(choice.value));
        if (!p) return;
        void act(button, line, async () => {
          const minor = amount.value.trim() ? parseMoney(amount.value) : p.budgetAmount;
          if (!minor) throw new RangeError(t("grant.amount"));
          await run("grant", line, "fund", "openGrant", [p.id, minor], rerender, () => t("grant.done", { id: p.id, amount: money(minor, p.budgetCurrency) }));
        });
      },
    },
    h("h2", null, t("grant.heading")),
    h("p", { class: "hint" }, t("grant.hint")),
    field(t("fin.proposal"), choice),
    field(t("grant.amount"), amount),
    h("div", { class: "row" }, button),
    line,
  );
}

function requestForm(proposals: ProposalOut[], grants: Map<number, GrantOut>, currency: string, rerender: () => void): HTMLElement {
  const open = [...grants.values()].filter((g) => g.state === "Open").sort((a, b) => b.proposalId - a.proposalId);
  const byId = new Map(proposals.map((p) => [p.id, p]));
  const choice = select(
    "pay-proposal",
    open.map((g) => ({
      value: g.proposalId,
      label: `#${g.proposalId} · ${t("grant.left", { amount: money(g.amount - g.paid, currency) })} · ${byId.get(g.proposalId) ? title(byId.get(g.proposalId) as ProposalOut) : ""}`,
    })),
    t("pay.noGrant"),
  );
  const recipient = personPicker(communityId(), t("pay.recipient"), "pay-recipient");
  const amount = h("input", { type: "text", inputmode: "decimal", required: true, placeholder: "0.00", "data-testid": "pay-amount" });
  const purpose = h("textarea", { rows: 2, required: true, maxlength: 2000, "data-testid": "pay-purpose" });
  const invoice = h("textarea", { rows: 2, maxlength: 5000, "data-testid": "pay-invoice" });
  const invoiceFile = h("input", { type: "file", "data-testid": "pay-invoice-file" });
  const line = statusLine("pay-status");
  const button = h("button", { type: "submit", "data-testid": "pay-submit", disabled: !open.length }, t("pay.sign"));
  return h(
    "form",
    {
      class: "panel",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const pid = Number(choice.value);
        void act(button, line, async () => {
          const to = recipient.value();
          if (to === null) throw new Problem(t("names.noPerson"));
          const minor = parseMoney(amount.value);
          if (!minor) throw new RangeError(t("pay.amount"));
          const chosen = invoiceFile.files?.[0];
          const invoiceHash = chosen ? await bytesHash(await chosen.arrayBuffer()) : invoice.value.trim() ? textHash(invoice.value) : null;
          if (!invoiceHash) throw new Problem(t("pay.noInvoice"));
          const args = [pid, to, minor, textHash(purpose.value), invoiceHash];
          await run("request", line, "fund", "requestPayout", args, rerender, async (receipt) => {
            const trail = await allPages<TrailEntryOut>(`/v1/communities/${communityId()}/fund/trail?proposal=${pid}`);
            const entry = trail.find((e) => e.step === "PayoutRequested" && e.txHash === receipt.txHash);
            return [t("pay.done"), " ", entry ? h("strong", { "data-testid": "pay-request-id", "data-id": entry.requestId }, `#${entry.requestId}`) : null];
          });
        });
      },
    },
    h("h2", null, t("pay.heading")),
    h("p", { class: "hint" }, t("pay.hint")),
    field(t("fin.proposal"), choice),
    recipient.element,
    field(t("pay.amount"), amount, t("pay.amountHint", { currency })),
    field(t("pay.purpose"), purpose),
    field(t("pay.invoice"), invoice, t("pay.invoiceHint")),
    field(t("pay.invoiceFile"), invoiceFile),
    h("div", { class: "row" }, button),
    line,
  );
}

function payoutRow(p: PayoutOut, fund: FundOut, me: string | null, rerender: () => void): HTMLElement {
  const line = statusLine("payout-status");
  const pending = p.status === "Pending";
  const approvals = p.approvers.length;
  const button = (testid: string, label: string, fn: string, action: string): HTMLButtonElement => {
    const b = h("button", { type: "button", class: "secondary", "data-testid": testid }, label);
    b.addEventListener("click", () => {
      void act(b, line, () => run(action, line, "fund", fn, [p.requestId], rerender, () => t(`pay.${action}Done`, { id: p.requestId })));
    });
    return b;
  };
  const iApproved = me !== null && p.approvers.includes(me);
  return h(
    "tr",
    { "data-testid": "payout-row", "data-id": p.requestId, "data-status": p.status, "data-approvals": approvals },
    h("td", null, `#${p.requestId}`),
    h("td", null, h("a", { href: `#/proposals/${p.proposalId}` }, `#${p.proposalId}`)),
    h("td", null, person(communityId(), p.recipient)),
    h("td", { class: "num" }, money(p.amount, fund.currency)),
    h("td", null, person(communityId(), p.requester)),
    h("td", null, `${approvals} / ${fund.approvalThreshold}`, iApproved ? ` (${t("pay.youApproved")})` : ""),
    h("td", null, badge(t(`payout.${p.status}`), p.status === "Executed" ? "good" : pending ? "info" : "neutral")),
    h(
      "td",
      { class: "actions" },
      h(
        "div",
        { class: "row tight" },
        pending && !iApproved && me !== p.requester ? button("payout-approve", t("pay.approve"), "approvePayout", "approve") : null,
        pending && approvals >= fund.approvalThreshold ? button("payout-execute", t("pay.execute"), "executePayout", "execute") : null,
        pending && me === p.requester ? button("payout-cancel", t("pay.cancel"), "cancelPayout", "cancel") : null,
      ),
      line,
    ),
  );
}

async function payoutsSection(cid: number, fund: FundOut, me: string | null, rerender: () => void): Promise<HTMLElement> {
  const trail = await allPages<TrailEntryOut>(`/v1/communities/${cid}/fund/trail`);
  const ids = [...new Set(trail.filter((e) => e.step === "PayoutRequested" && e.requestId !== null).map((e) => e.requestId as number))];
  const payouts = await Promise.all(ids.reverse().map((id) => api<PayoutOut>(`/v1/payouts/${id}`)));
  return h(
    "section",
    { class: "panel", "data-testid": "payouts" },
    h("h2", null, t("pay.listHeading"), " ", badge(String(payouts.length))),
    h("p", { class: "hint" }, t("pay.listHint", { n: fund.approvalThreshold })),
    h(
      "div",
      { class: "table-wrap" },
      cardTable(h(
        "table",
        null,
        h("thead", null, h("tr", null, ["pay.request", "fin.proposal", "pay.recipient", "pay.amount", "pay.requester", "pay.approvals", "pay.status", "pay.actions"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", null, payouts.map((p) => payoutRow(p, fund, me, rerender))),
      )),
    ),
  );
}

/** The completed budget projects of the community's rounds: each with its work for ratings. */
async function completedProjects(cid: number): Promise<{ round: number; name: string; work: RatedWork }[]> {
  const list = await api<CompletedProjectsOut>(`/v1/communities/${cid}/completed-projects`);
  return list.projects.map(({ roundId, project }) => {
    const name = t("cm.roundProject", { round: roundId, n: project.index + 1 });
    return { round: roundId, name, work: projectWork(roundId, project, name) };
  });
}

/** The residents' ratings of each completed proposal and budget project: the committee's record
 * shows them. */
async function ratingsRecord(proposals: ProposalOut[], cid: number): Promise<HTMLElement> {
  const done = proposals.filter(rated);
  const projects = await completedProjects(cid);
  const all = await Promise.all([...done.map((p) => ratingsOf(proposalWork(p))), ...projects.map((p) => ratingsOf(p.work))]);
  const items = [
    ...done.map((p, i) => h("div", { "data-id": p.id }, h("h3", null, h("a", { href: `#/proposals/${p.id}` }, `#${p.id} · ${title(p)}`)), ratingSummary(proposalWork(p), all[i]))),
    ...projects.map((p, i) =>
      h("div", { "data-rated": p.work.id }, h("h3", null, h("a", { href: `#/budget/${p.round}` }, p.name)), ratingSummary(p.work, all[done.length + i])),
    ),
  ];
  return h("section", { class: "panel", "data-testid": "cm-ratings" }, h("h2", null, t("cm.ratingsHeading")), items.length ? items : h("p", { class: "muted" }, t("cm.noRatings")));
}

export async function committeeView(rerender: () => void): Promise<HTMLElement> {
  const cid = communityId();
  const me = activeAddress();
  const [proposals, fund, who] = await Promise.all([
    api<Page<ProposalOut>>(`/v1/proposals?community=${cid}&limit=100`).then((p) => p.items),
    api<FundOut>(`/v1/communities/${cid}/fund`),
    me ? standing(me, cid) : Promise.resolve(null),
  ]);
  const grants = new Map<number, GrantOut>();
  await Promise.all(
    proposals
      .filter((p) => p.outcome === "Passed" && p.budgetAmount > 0)
      .map(async (p) => {
        const g = await api<GrantOut | null>(`/v1/grants/${p.id}`, { allow404: true });
        if (g) grants.set(p.id, g);
      }),
  );
  const payouts = h("div", null, loading());
  void payoutsSection(cid, fund, me, rerender).then((n) => replace(payouts, n), (e) => replace(payouts, errorBox(e)));
  const ratingsShown = h("div", null, loading());
  void ratingsRecord(proposals, cid).then((n) => replace(ratingsShown, n), (e) => replace(ratingsShown, errorBox(e)));
  const shown = flash;
  flash = null;
  return h(
    "section",
    { "data-testid": "committee" },
    h("h1", { tabindex: "-1" }, t("cm.heading")),
    h("p", { class: "lead" }, t("cm.intro")),
    shown ? h("div", { class: "flash", role: "status", "data-testid": "flash", "data-action": shown.action }, h("strong", null, "✓ "), shown.content) : null,
    me
      ? h(
          "p",
          { class: who?.committee ? "notice" : "notice warn", "data-testid": "cm-standing", "data-committee": String(Boolean(who?.committee)) },
          t("cm.actingAs"),
          " ",
          person(cid, me),
          " · ",
          who?.committee ? t("cm.isMember") : t("cm.notMember"),
        )
      : h("p", { class: "notice warn" }, t("cm.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys"))),
    payouts,
    h("div", { class: "grid" }, openProposalForm(cid, fund, rerender), finalizeForm(proposals, rerender), milestoneForm(proposals, rerender)),
    h("div", { class: "grid" }, grantForm(proposals, grants, rerender), requestForm(proposals, grants, fund.currency, rerender)),
    ratingsShown,
  );
}
