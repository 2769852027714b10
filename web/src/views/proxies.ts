// "My proxy" in the keys view: who holds my mandate in this community (a neighbour found with the
// person picker, appointed for every vote by my signature, revocable at any time) and whose
// mandates I hold. Signed here, relayed by the API (gasless); the chain's view is read back.

import type { TypedDataField } from "ethers";
import { api } from "../api";
import { chain, mandatesDomain } from "../chain";
import { h, replace } from "../dom";
import { t } from "../i18n";
import { activeAddress } from "../keys";
import { person, personPicker } from "../people";
import { EIP712_FIELDS } from "../protocol";
import type { MandateOut, ReceiptOut } from "../schemas";
import { communityId } from "../state";
import { act, requireWallet, statusLine } from "../ui";

const MANDATE_TYPES: Record<string, TypedDataField[]> = { Mandate: EIP712_FIELDS.Mandate };
const REVOCATION_TYPES: Record<string, TypedDataField[]> = { MandateRevocation: EIP712_FIELDS.MandateRevocation };

interface HeldView {
  mandates: { resident: string }[];
}

async function appoint(cid: number, proxy: string): Promise<ReceiptOut> {
  const wallet = await requireWallet();
  const c = await chain();
  const { nonce } = await api<MandateOut>(`/v1/communities/${cid}/mandates/${wallet.address}`);
  const message = { communityId: cid, resident: wallet.address, proxy, scope: 0, voteId: 0, nonce };
  const signature = await wallet.signTypedData(mandatesDomain(c), MANDATE_TYPES, message);
  return api<ReceiptOut>("/v1/mandates", { json: { act: "appoint", ...message, signature } });
}

async function revoke(cid: number): Promise<ReceiptOut> {
  const wallet = await requireWallet();
  const c = await chain();
  const { nonce } = await api<MandateOut>(`/v1/communities/${cid}/mandates/${wallet.address}`);
  const message = { communityId: cid, resident: wallet.address, nonce };
  const signature = await wallet.signTypedData(mandatesDomain(c), REVOCATION_TYPES, message);
  return api<ReceiptOut>("/v1/mandates", { json: { act: "revoke", ...message, signature } });
}

/** The holder of my mandate; when a registrar replaced their key, the new key and a button to
 * appoint it (the mandate names the retired key, which can cast nothing). */
function holderLine(
  cid: number,
  me: string,
  line: HTMLElement,
  retired: HTMLElement,
  revokeButton: HTMLButtonElement,
  appointNew: (proxy: string) => HTMLElement,
): void {
  void api<MandateOut>(`/v1/communities/${cid}/mandates/${me}`).then((m) => {
    line.dataset.proxy = m.proxy ?? "";
    revokeButton.hidden = m.proxy === null;
    if (m.proxy) replace(line, t("proxy.holder"), " ", person(cid, m.proxy));
    else replace(line, t("proxy.noHolder"));
    retired.hidden = !m.proxyReplacedBy;
    if (m.proxyReplacedBy) {
      retired.dataset.replacedBy = m.proxyReplacedBy;
      replace(
        retired,
        h("p", { class: "notice warn" }, t("proxy.retired"), " ", person(cid, m.proxyReplacedBy)),
        appointNew(m.proxyReplacedBy),
      );
    } else retired.replaceChildren();
  }, () => replace(line, t("proxy.unknown")));
}

function heldList(cid: number, me: string, list: HTMLElement): void {
  void api<HeldView>(`/v1/communities/${cid}/proxies/${me}`).then((held) => {
    if (held.mandates.length === 0) replace(list, h("li", { class: "muted" }, t("proxy.holdNone")));
    else replace(list, ...held.mandates.map((m) => h("li", null, person(cid, m.resident))));
  }, () => list.replaceChildren());
}

/** The panel mounted in the keys view, for the active key in the current community. */
export function proxyPanel(): HTMLElement {
  const me = activeAddress();
  const cid = communityId();
  const section = h("section", { class: "panel", "data-testid": "proxy", "aria-labelledby": "proxy-heading" }, h("h2", { id: "proxy-heading" }, t("proxy.heading")), h("p", { class: "hint" }, t("proxy.hint")));
  if (!me) {
    section.append(h("p", { class: "muted" }, t("names.needKey")));
    return section;
  }
  const holder = h("p", { "data-testid": "proxy-holder" });
  const held = h("ul", { "data-testid": "proxy-held", "aria-label": t("proxy.holdHeading") });
  const retired = h("div", { "data-testid": "proxy-retired", hidden: true });
  const line = statusLine("proxy-status");
  const picker = personPicker(cid, t("proxy.choose"), "proxy-person");
  const appointButton = h("button", { type: "button", "data-testid": "proxy-appoint" }, t("proxy.appoint")) as HTMLButtonElement;
  const revokeButton = h("button", { type: "button", class: "secondary", hidden: true, "data-testid": "proxy-revoke" }, t("proxy.revoke")) as HTMLButtonElement;
  const appointNew = (proxy: string): HTMLElement => {
    const button = h("button", { type: "button", "data-testid": "proxy-appoint-new" }, t("proxy.appointNew")) as HTMLButtonElement;
    button.addEventListener("click", () => {
      void act(button, line, async () => {
        const receipt = await appoint(cid, proxy);
        line.dataset.status = "sent";
        line.dataset.receipt = receipt.id;
        return t("proxy.sent");
      });
    });
    return h("div", { class: "row" }, button);
  };
  const refresh = (): void => {
    holderLine(cid, me, holder, retired, revokeButton, appointNew);
    heldList(cid, me, held);
  };
  appointButton.addEventListener("click", () => {
    void act(appointButton, line, async () => {
      const proxy = picker.value();
      if (!proxy) throw new RangeError("address");
      const receipt = await appoint(cid, proxy);
      line.dataset.status = "sent";
      line.dataset.receipt = receipt.id;
      return t("proxy.sent");
    });
  });
  revokeButton.addEventListener("click", () => {
    void act(revokeButton, line, async () => {
      const receipt = await revoke(cid);
      line.dataset.status = "sent";
      line.dataset.receipt = receipt.id;
      return t("proxy.sent");
    });
  });
  const reload = h("button", { type: "button", class: "secondary small", "data-testid": "proxy-reload" }, t("proxy.reload"));
  reload.addEventListener("click", refresh);
  refresh();
  section.append(
    holder,
    retired,
    h("div", { class: "row" }, revokeButton, reload),
    picker.element,
    h("div", { class: "row" }, appointButton),
    line,
    h("h3", null, t("proxy.holdHeading")),
    held,
  );
  return section;
}
