// The community admin's screen: who holds each role and what the community's parameters are
// (GET /v1/communities/{id}/settings), and each administrative act (grant / revoke a role, the
// payout threshold, the fund's currency, the time bank's limits, handing the admin role over)
// as an ERC-2771 forward request signed in this page with the admin's own key; the relay pays
// the gas and the contract sees the admin. Before anything is signed the page says, in plain
// words, what will be signed and by whom; what the contract would refuse is refused here first.

import { api } from "../api";
import { currencyBytes, forward, type ContractKey } from "../chain";
import { h, replace, type Child } from "../dom";
import { Problem } from "../errors";
import { personPicker, type PersonPicker } from "../people";
import { t } from "../i18n";
import { activeAddress, listKeys } from "../keys";
import { ROLE_IDS, ROLES, type Role } from "../protocol";
import type { CommunitySettingsOut } from "../schemas";
import { communityId } from "../state";
import { act, field, mono, relayed, requireWallet, statusLine, waitIndexed } from "../ui";

const ROLE_ORDER: Role[] = ["COMMITTEE", "REGISTRAR", "COORDINATOR", "AUDITOR", "POLL_OFFICER"];
const ZERO = "0x0000000000000000000000000000000000000000";

/** One act, ready to state and sign. `as` is who the contract lets make the call. */
interface Act {
  name: string;
  target: ContractKey;
  fn: string;
  args: readonly unknown[];
  what: string;
  as: "admin" | "pending";
}

let flash: { act: string; what: string } | null = null;
// The statement of the act awaiting the reader's "Sign and send"; one at a time.
let confirming: HTMLElement | null = null;

function roleName(role: Role): string {
  return t(`adm.role.${role}`);
}

/** The person chosen (found by name, read from their QR code, or typed under "details"). */
function picked(picker: PersonPicker): string {
  const who = picker.value();
  if (who === null) throw new Problem(t("adm.badAddress"));
  return who;
}

/** The signer the contract will accept for `act`, or a refusal in plain words. */
function checkSigner(s: CommunitySettingsOut, as: Act["as"]): void {
  const me = activeAddress();
  if (as === "pending") {
    if (me !== s.pendingAdmin) throw new Problem(t("adm.onlyPending", { address: s.pendingAdmin ?? t("adm.nobody") }));
  } else if (me !== s.admin) {
    throw new Problem(t("adm.onlyAdmin", { admin: s.admin }));
  }
}

/** Say what will be signed and who signs, with "Sign and send" and "Change" under it. */
function statement(s: CommunitySettingsOut, a: Act, area: HTMLElement, line: HTMLElement, rerender: () => void): HTMLElement {
  const me = activeAddress() as string;
  const label = listKeys().find((k) => k.address === me)?.label ?? "";
  const sign = h("button", { type: "button", "data-testid": "adm-sign" }, t("adm.sign"));
  const back = h("button", { type: "button", class: "secondary", "data-testid": "adm-back" }, t("adm.back"));
  const box = h(
    "div",
    { class: "confirm", role: "group", "aria-labelledby": `adm-confirm-${a.name}`, "data-testid": "adm-confirm", "data-act": a.name },
    h("p", { id: `adm-confirm-${a.name}` }, h("strong", null, t("adm.confirmHeading"))),
    h("p", { class: "what", "data-testid": "adm-what" }, a.what),
    h("p", { class: "hint", "data-testid": "adm-who" }, t("adm.whoSigns", { label, address: me, as: t(a.as === "admin" ? "adm.asAdmin" : "adm.asPending") })),
    h("div", { class: "row" }, sign, back),
  );
  back.addEventListener("click", () => {
    replace(area);
    confirming = null;
  });
  sign.addEventListener("click", () => {
    void act(sign, line, async () => {
      checkSigner(s, a.as);
      const wallet = await requireWallet();
      back.disabled = true; // what is being signed stays on screen until it is settled
      try {
        const receipt = await relayed(line, () => forward(wallet, a.target, a.fn, a.args));
        await waitIndexed(receipt.block);
      } finally {
        back.disabled = false;
      }
      flash = { act: a.name, what: a.what };
      confirming = null;
      rerender();
    });
  });
  return box;
}

/** A form whose submit builds an act, checks it and states it for signing. */
function actForm(name: string, heading: string, s: CommunitySettingsOut, rerender: () => void, build: () => Act, ...fields: Child[]): HTMLElement {
  const area = h("div", { class: "confirm-area" });
  const line = statusLine(`adm-${name}-status`);
  const review = h("button", { type: "submit", "data-testid": `adm-${name}-review` }, t("adm.review"));
  return h(
    "form",
    {
      class: "panel",
      "data-testid": `adm-${name}`,
      // The page's own checks say what is wrong, in the reader's language, next to the button.
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(review, line, async () => {
          const a = build();
          checkSigner(s, a.as);
          if (confirming) replace(confirming);
          confirming = area;
          replace(area, statement(s, a, area, line, rerender));
          (area.querySelector('[data-testid="adm-sign"]') as HTMLElement | null)?.focus();
          return "";
        });
      },
    },
    h("h2", null, heading),
    fields,
    h("div", { class: "row" }, review),
    area,
    line,
  );
}

/** A button whose act needs no input (revoke a holder, accept or withdraw a handover). */
function actButton(testid: string, label: string, s: CommunitySettingsOut, a: Act, rerender: () => void, extra: Record<string, string> = {}): HTMLElement {
  const area = h("div", { class: "confirm-area" });
  const line = statusLine(`${testid}-status`);
  const button = h("button", { type: "button", class: "secondary", "data-testid": testid, ...extra }, label);
  button.addEventListener("click", () => {
    void act(button, line, async () => {
      checkSigner(s, a.as);
      if (confirming) replace(confirming);
      confirming = area;
      replace(area, statement(s, a, area, line, rerender));
      return "";
    });
  });
  return h("div", { class: "act-button" }, button, area, line);
}

function stateSection(s: CommunitySettingsOut, rerender: () => void): HTMLElement {
  const cid = s.id;
  const isAdmin = activeAddress() === s.admin;
  const row = (key: string, testid: string, value: Child): HTMLElement[] => [h("dt", null, t(key)), h("dd", { "data-testid": testid }, value)];
  return h(
    "section",
    { class: "panel", "data-testid": "adm-state", "aria-labelledby": "adm-state-h" },
    h("h2", { id: "adm-state-h" }, t("adm.stateHeading")),
    h(
      "dl",
      { class: "facts" },
      row("adm.admin", "adm-admin", mono(s.admin, 20)),
      row("adm.pending", "adm-pending", s.pendingAdmin ? mono(s.pendingAdmin, 20) : t("adm.nobody")),
      row("adm.currency", "adm-currency-now", s.currency || t("adm.unset")),
      row("adm.threshold", "adm-threshold-now", s.approvalThreshold ? t("adm.thresholdValue", { n: s.approvalThreshold, size: s.committeeSize }) : t("adm.unset")),
      row("adm.limits", "adm-limits-now", t("adm.limitsValue", { floor: s.floorMinutes, ceiling: s.ceilingMinutes })),
    ),
    h("h3", null, t("adm.rolesHeading")),
    ROLE_ORDER.map((role) => {
      const holders = s.roles[ROLES[role]] ?? [];
      return h(
        "div",
        { class: "role", "data-testid": "adm-role", "data-role": role, "data-count": holders.length },
        h("h4", null, roleName(role), " (", String(holders.length), ")"),
        holders.length
          ? h(
              "ul",
              { class: "holders" },
              holders.map((account) =>
                h(
                  "li",
                  { "data-testid": "adm-holder", "data-account": account },
                  mono(account, 20),
                  isAdmin &&
                  actButton(
                    "adm-revoke",
                    t("adm.revoke"),
                    s,
                    {
                      name: "revoke",
                      target: "registry",
                      fn: "revokeRole",
                      args: [cid, ROLE_IDS[role], account],
                      what: t("adm.what.revoke", { role: roleName(role), community: cid, account }),
                      as: "admin",
                    },
                    rerender,
                    { "data-role": role, "data-account": account, "aria-label": `${t("adm.revoke")}: ${roleName(role)} ${account}` },
                  ),
                ),
              ),
            )
          : h("p", { class: "muted" }, t("adm.noHolders")),
      );
    }),
  );
}

function grantForm(s: CommunitySettingsOut, rerender: () => void): HTMLElement {
  const role = h("select", { "data-testid": "adm-grant-role" }, ROLE_ORDER.map((r) => h("option", { value: r }, roleName(r))));
  const account = personPicker(s.id, t("adm.account"), "adm-grant-account");
  return actForm(
    "grant",
    t("adm.grantHeading"),
    s,
    rerender,
    () => {
      const chosen = role.value as Role;
      const who = picked(account);
      if ((s.roles[ROLES[chosen]] ?? []).includes(who)) throw new Problem(t("adm.alreadyHolds", { account: who, role: roleName(chosen) }));
      return {
        name: "grant",
        target: "registry",
        fn: "grantRole",
        args: [s.id, ROLE_IDS[chosen], who],
        what: t("adm.what.grant", { role: roleName(chosen), community: s.id, account: who }),
        as: "admin",
      };
    },
    field(t("adm.role"), role),
    account.element,
  );
}

function thresholdForm(s: CommunitySettingsOut, rerender: () => void): HTMLElement {
  const n = h("input", { type: "number", min: 1, max: Math.max(1, s.committeeSize), step: 1, required: true, value: s.approvalThreshold || 1, "data-testid": "adm-threshold-n" });
  return actForm(
    "threshold",
    t("adm.thresholdHeading"),
    s,
    rerender,
    () => {
      const value = Number(n.value);
      if (!Number.isInteger(value) || value < 1 || value > s.committeeSize) throw new Problem(t("adm.thresholdRange", { size: s.committeeSize }));
      return { name: "threshold", target: "fund", fn: "setApprovalThreshold", args: [s.id, value], what: t("adm.what.threshold", { community: s.id, n: value }), as: "admin" };
    },
    field(t("adm.threshold"), n, t("adm.thresholdHint")),
  );
}

function currencyForm(s: CommunitySettingsOut, rerender: () => void): HTMLElement {
  if (s.currency) {
    return h("section", { class: "panel", "data-testid": "adm-currency" }, h("h2", null, t("adm.currencyHeading")), h("p", null, t("adm.currencyFixed", { code: s.currency })));
  }
  const code = h("input", { type: "text", maxlength: 3, autocomplete: "off", required: true, placeholder: "CNY", "data-testid": "adm-currency-code" });
  return actForm(
    "currency",
    t("adm.currencyHeading"),
    s,
    rerender,
    () => {
      const value = code.value.trim().toUpperCase();
      if (!/^[A-Z]{3}$/.test(value)) throw new Problem(t("adm.badCurrency"));
      return { name: "currency", target: "fund", fn: "setCurrency", args: [s.id, currencyBytes(value)], what: t("adm.what.currency", { community: s.id, code: value }), as: "admin" };
    },
    field(t("adm.currency"), code, t("adm.currencyHint")),
  );
}

function limitsForm(s: CommunitySettingsOut, rerender: () => void): HTMLElement {
  const floor = h("input", { type: "number", max: 0, step: 1, required: true, value: s.floorMinutes, "data-testid": "adm-limits-floor" });
  const ceiling = h("input", { type: "number", min: 0, step: 1, required: true, value: s.ceilingMinutes, "data-testid": "adm-limits-ceiling" });
  return actForm(
    "limits",
    t("adm.limitsHeading"),
    s,
    rerender,
    () => {
      const low = Number(floor.value);
      const high = Number(ceiling.value);
      if (!Number.isInteger(low) || !Number.isInteger(high) || low > 0 || high < 0) throw new Problem(t("adm.badLimits"));
      return { name: "limits", target: "timebank", fn: "setLimits", args: [s.id, low, high], what: t("adm.what.limits", { community: s.id, floor: low, ceiling: high }), as: "admin" };
    },
    h("div", { class: "inline" }, field(t("adm.floor"), floor, t("adm.floorHint")), field(t("adm.ceiling"), ceiling, t("adm.ceilingHint"))),
  );
}

function transferSection(s: CommunitySettingsOut, rerender: () => void): HTMLElement {
  const cid = s.id;
  if (s.pendingAdmin) {
    return h(
      "section",
      { class: "panel", "data-testid": "adm-transfer" },
      h("h2", null, t("adm.transferHeading")),
      h("p", null, t("adm.pendingTo", { address: s.pendingAdmin })),
      activeAddress() === s.pendingAdmin
        ? actButton("adm-accept", t("adm.accept"), s, { name: "accept", target: "registry", fn: "acceptAdmin", args: [cid], what: t("adm.what.accept", { community: cid }), as: "pending" }, rerender)
        : actButton("adm-cancel", t("adm.cancelTransfer"), s, { name: "cancel", target: "registry", fn: "cancelAdminTransfer", args: [cid], what: t("adm.what.cancel", { community: cid }), as: "admin" }, rerender),
    );
  }
  const account = personPicker(cid, t("adm.newAdmin"), "adm-transfer-account");
  return actForm(
    "transfer",
    t("adm.transferHeading"),
    s,
    rerender,
    () => {
      const who = picked(account);
      if (who === s.admin || who === ZERO) throw new Problem(t("adm.sameAdmin", { account: who }));
      return { name: "transfer", target: "registry", fn: "transferAdmin", args: [cid, who], what: t("adm.what.transfer", { community: cid, account: who }), as: "admin" };
    },
    h("p", { class: "hint" }, t("adm.transferHint")),
    account.element,
  );
}

function standingLine(s: CommunitySettingsOut): HTMLElement {
  const me = activeAddress();
  if (!me) return h("p", { class: "notice warn", "data-testid": "adm-standing", "data-admin": "false" }, t("adm.needKey"), " ", h("a", { href: "#/keys" }, t("nav.keys")));
  const isAdmin = me === s.admin;
  const isPending = me === s.pendingAdmin;
  return h(
    "p",
    { class: isAdmin || isPending ? "notice" : "notice warn", "data-testid": "adm-standing", "data-admin": String(isAdmin) },
    t("adm.actingAs"),
    " ",
    mono(me),
    " · ",
    isAdmin ? t("adm.isAdmin") : isPending ? t("adm.isPending") : t("adm.notAdmin", { admin: s.admin }),
  );
}

export async function adminView(rerender: () => void): Promise<HTMLElement> {
  const s = await api<CommunitySettingsOut>(`/v1/communities/${communityId()}/settings`);
  const me = activeAddress();
  const shown = flash;
  flash = null;
  confirming = null;
  return h(
    "section",
    { class: "admin-view", "data-testid": "admin" },
    h("h1", { tabindex: "-1" }, t("adm.heading")),
    h("p", { class: "lead" }, t("adm.intro")),
    shown ? h("div", { class: "flash", role: "status", "data-testid": "flash", "data-action": shown.act }, h("strong", null, "✓ ", t("adm.done")), " ", shown.what) : null,
    standingLine(s),
    stateSection(s, rerender),
    // The acts are offered to the admin; to the one the role is offered to, only accepting it.
    me === s.admin
      ? h("div", { class: "grid" }, grantForm(s, rerender), limitsForm(s, rerender), thresholdForm(s, rerender), currencyForm(s, rerender), transferSection(s, rerender))
      : me !== null && me === s.pendingAdmin
        ? transferSection(s, rerender)
        : null,
  );
}
