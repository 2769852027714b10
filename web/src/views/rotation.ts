// A lost or replaced phone: the registrar replaces a resident's key. Two forward requests signed
// in this page with the registrar's own key and relayed gasless: Registry.replaceResident (the
// old key leaves the roll, the fresh one joins), then TimeBank.carryOver (the balance follows).
// The resident is found by name; the new address can be typed or read from a photo of the QR
// code the new phone shows. Mounted on the Roll tab for a registrar.

import { getAddress, isAddress } from "ethers";
import { api } from "../api";
import { forward } from "../chain";
import { h } from "../dom";
import { t } from "../i18n";
import { personPicker } from "../people";
import { readQr } from "../qr";
import type { CommunityOut, MemberHistoryOut } from "../schemas";
import { act, field, mono, relayed, requireWallet, statusLine, waitIndexed, when } from "../ui";

function addressOf(input: HTMLInputElement): string {
  const text = input.value.trim();
  if (!isAddress(text)) {
    input.focus();
    throw new RangeError(t("rot.notAddress"));
  }
  return getAddress(text);
}

function qrInput(target: HTMLInputElement, line: HTMLElement): HTMLElement {
  const file = h("input", { type: "file", accept: "image/*", capture: "environment", "data-testid": "rot-new-qr" });
  file.addEventListener("change", () => {
    const photo = file.files?.[0];
    if (!photo) return;
    void act(null, line, async () => {
      const text = await readQr(photo);
      const found = text?.replace(/^ethereum:/i, "").split(/[@?]/)[0] ?? "";
      if (!isAddress(found)) throw new RangeError(t("rot.noQr"));
      target.value = getAddress(found);
      return "";
    });
  });
  return h("label", { class: "option" }, t("rot.scan"), " ", file);
}

/** The registrar's "replace a resident's key" form for community `cid`. */
export function rotationPanel(cid: number, rerender: () => void): HTMLElement {
  // The resident is found by name (or their old address typed under "details").
  const old = personPicker(cid, t("rot.old"), "rot-old");
  const fresh = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "0x…", "data-testid": "rot-new" });
  const line = statusLine("rot-status");
  const button = h("button", { type: "submit", "data-testid": "rot-submit" }, t("rot.sign"));
  return h(
    "form",
    {
      class: "panel rotation",
      "data-testid": "rotation",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const from = old.value();
          if (!from) throw new RangeError(t("rot.notAddress"));
          const to = addressOf(fresh);
          if (from === to) throw new RangeError(t("rot.same"));
          const wallet = await requireWallet();
          line.textContent = t("rot.replacing");
          await relayed(line, () => forward(wallet, "registry", "replaceResident", [cid, from, to]));
          line.textContent = t("rot.carrying");
          const carried = await relayed(line, () => forward(wallet, "timebank", "carryOver", [cid, from]));
          await waitIndexed(carried.block);
          const history = await api<MemberHistoryOut>(`/v1/communities/${cid}/members/${to}/history`);
          // A replacement moves no role (the admin's to revoke and grant): say which ones stay.
          const { roles } = await api<CommunityOut>(`/v1/communities/${cid}`);
          const kept = Object.keys(roles).filter((role) => (roles[role] ?? []).some((a) => a.toLowerCase() === from.toLowerCase()));
          fresh.value = "";
          line.dataset.status = "replaced";
          const done = h("span", { "data-testid": "rot-done", "data-minutes": history.minutes }, t("rot.done", { minutes: history.minutes }), " ", mono(from));
          if (kept.length === 0) {
            window.setTimeout(rerender, 4000);
            return done;
          }
          // Kept on screen (no redraw) until the registrar moves on.
          return h("span", null, done, h("span", { class: "notice warn", "data-testid": "rot-roles-kept", "data-roles": kept.join(" ") }, t("rot.rolesKept", { roles: kept.join(", ") })));
        });
      },
    },
    h("h2", null, t("rot.heading")),
    h("p", { class: "hint" }, t("rot.hint")),
    old.element,
    field(t("rot.new"), fresh, t("rot.newHint")),
    qrInput(fresh, line),
    h("div", { class: "row" }, button),
    line,
  );
}

/** "N minutes carried over on … from the old key 0x…", for each key `account` replaced; null if none. */
export async function carriedOverNote(cid: number, account: string): Promise<HTMLElement | null> {
  const history = await api<MemberHistoryOut>(`/v1/communities/${cid}/members/${account}/history`);
  if (!history.carriedOver.length) return null;
  return h(
    "ul",
    { class: "carried", "data-testid": "tb-carried", "aria-label": t("rot.history") },
    history.carriedOver.map((c) =>
      h("li", null, t("rot.carriedFrom", { minutes: c.minutes, date: when(c.timestamp) }), " ", mono(c.fromAccount)),
    ),
  );
}
