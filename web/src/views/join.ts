// "Join a community", on the keys view: the active key, not yet on the roll, asks to join. The
// request is signed here and shown as a short code and a QR code to bring to the community office;
// the registrar checks the person and adds the address (views/roll.ts).

import { h } from "../dom";
import { t } from "../i18n";
import { chain } from "../chain";
import { dropJoin, joinDigest, joinQrText, keepJoin, lookupJoin, myJoin, sendJoin, shortCode, signJoin } from "../joins";
import { ApiError } from "../api";
import { qrSvg } from "../qr";
import type { JoinRequestIn } from "../schemas";
import { communityId, standing } from "../state";
import { act, badge, errorBox, loading, requireWallet, statusLine } from "../ui";

function askButton(cid: number, label: string, rerender: () => void): HTMLElement {
  const line = statusLine("join-ask-status");
  const button = h("button", { type: "button", "data-testid": "join-ask" }, label);
  button.addEventListener("click", () => {
    void act(button, line, async () => {
      const wallet = await requireWallet();
      const req = await signJoin(wallet, cid);
      await sendJoin(req);
      keepJoin(req);
      rerender();
    });
  });
  return h("div", null, h("div", { class: "row" }, button), line);
}

async function requestShown(cid: number, req: JoinRequestIn, rerender: () => void): Promise<HTMLElement[]> {
  const code = shortCode(joinDigest(await chain(), req));
  // The service may have lost it (or never had it, offline): the signed request is sent again.
  // One left unanswered too long has expired: it is forgotten and the resident asks anew.
  let found;
  try {
    found = (await lookupJoin(cid, code)) ?? (await sendJoin(req));
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "JoinExpired")) throw error;
    dropJoin(req);
    return [h("p", { class: "notice", "data-testid": "join-expired" }, t("join.expired")), askButton(cid, t("join.ask"), rerender)];
  }
  const status = found.status;
  return [
    h("p", null, t("join.bring")),
    h("p", { class: "join-code", "data-testid": "join-code", "aria-label": t("join.codeLabel", { code: code.split("").join(" ") }) }, code),
    h("div", { class: "join-qr" }, qrSvg(joinQrText(req), t("join.qrLabel", { code }))),
    h(
      "p",
      { "data-testid": "join-status", "data-status": status },
      badge(t(`join.status.${status}`), status === "pending" ? "warn" : "info"),
      " ",
      t(`join.statusHint.${status}`),
    ),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", class: "secondary", "data-testid": "join-refresh", onclick: rerender }, t("join.checkAgain")),
    ),
    h("details", null, h("summary", null, t("join.askAgainHeading")), h("p", { class: "hint" }, t("join.askAgainHint")), askButton(cid, t("join.askAgain"), rerender)),
  ];
}

async function stepContent(address: string, rerender: () => void): Promise<HTMLElement[]> {
  const cid = communityId();
  if ((await standing(address, cid)).resident) {
    return [h("p", { class: "notice", "data-testid": "join-status", "data-status": "resident" }, badge(t("join.status.onRoll"), "good"), " ", t("join.onRoll"))];
  }
  const req = myJoin(cid, address);
  if (req) return requestShown(cid, req, rerender);
  return [h("p", null, t("join.why")), h("p", { class: "hint" }, t("join.privacy")), askButton(cid, t("join.ask"), rerender)];
}

/** The join step for the active key (nothing without one). */
export function joinStep(address: string | null, rerender: () => void): HTMLElement | null {
  if (!address) return null;
  const body = h("div", null, loading());
  void stepContent(address, rerender).then(
    (nodes) => body.replaceChildren(...nodes),
    (error) => body.replaceChildren(errorBox(error)),
  );
  return h(
    "section",
    { class: "panel join-step", "data-testid": "join-step", "aria-labelledby": "join-heading" },
    h("h2", { id: "join-heading" }, t("join.heading", { id: communityId() })),
    body,
  );
}
