// "My name and QR code" in the keys view: the active key's display name in this community (set
// while signed in; seen only by signed-in members) and its address as a QR code to show a
// neighbour, who scans it in the person picker (people.ts) instead of typing the address.

import { api } from "../api";
import { signedIn } from "../chain";
import { h, replace } from "../dom";
import { t } from "../i18n";
import { activeAddress, isUnlocked } from "../keys";
import { forgetName, nameOf, qrText } from "../people";
import { qrSvg } from "../qr";
import type { MemberOut } from "../schemas";
import { communityId } from "../state";
import { act, field, requireWallet, statusLine } from "../ui";

function showName(line: HTMLElement, m: MemberOut | null): void {
  line.dataset.name = m?.name ?? "";
  if (m) replace(line, t("names.current"), " ", h("strong", null, m.name), " ", h("span", { class: "person-tag" }, t("names.tag", { tag: m.tag })));
  else replace(line, t("names.noName"));
}

function nameForm(cid: number, me: string): HTMLElement {
  const input = h("input", { type: "text", autocomplete: "nickname", maxlength: 40, required: true, "data-testid": "my-name" });
  const current = h("p", { "data-testid": "my-name-current" });
  const line = statusLine("my-name-status");
  const button = h("button", { type: "submit", "data-testid": "my-name-save" }, t("names.save"));
  // A locked key cannot ask (names need a sign-in): say nothing rather than "no name".
  if (isUnlocked(me)) void nameOf(cid, me).then((m) => {
    showName(current, m);
    if (m && !input.value) input.value = m.name;
  });
  return h(
    "form",
    {
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act(button, line, async () => {
          const token = await signedIn(await requireWallet());
          const saved = await api<MemberOut>(`/v1/communities/${cid}/members/me/name`, { method: "PUT", json: { name: input.value }, token });
          forgetName(cid, me);
          input.value = saved.name;
          showName(current, saved);
          line.dataset.status = "saved";
          return [t("names.saved"), " ", h("strong", null, saved.name)];
        });
      },
    },
    current,
    field(t("names.myName"), input, t("names.myNameHint")),
    h("div", { class: "row" }, button),
    line,
  );
}

function qrToggle(me: string): HTMLElement {
  const holder = h("div", { "data-testid": "my-qr" });
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false", "data-testid": "my-qr-toggle" }, t("names.showQr"));
  button.addEventListener("click", () => {
    const open = holder.childElementCount === 0;
    if (open) replace(holder, qrSvg(qrText(me), t("names.qrLabel", { address: me })), h("p", { class: "hint" }, t("names.qrHint")));
    else holder.replaceChildren();
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? t("names.hideQr") : t("names.showQr");
  });
  return h("div", null, h("div", { class: "row" }, button), holder);
}

/** The panel mounted in the keys view, for the active key in the current community. */
export function mePanel(): HTMLElement {
  const me = activeAddress();
  return h(
    "section",
    { class: "panel", "data-testid": "me", "aria-labelledby": "me-heading" },
    h("h2", { id: "me-heading" }, t("names.meHeading")),
    h("p", { class: "hint" }, t("names.meHint")),
    me ? [nameForm(communityId(), me), qrToggle(me)] : h("p", { class: "muted" }, t("names.needKey")),
  );
}
