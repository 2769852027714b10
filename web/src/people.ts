// Finding each other without typing a 42-character address: the person picker (search by
// display name, scan the other's QR code, or the raw address under "details"), and a member's
// name shown wherever the page shows an address (the full address stays under "details").
//
// Names are for signed-in members of the community only (api/routers/members.py). The page
// asks for them only with an unlocked key's sign-in token, keeps them in memory for that key
// alone and forgets them when it is locked or another key becomes active: never in storage.

import { getAddress, isAddress } from "ethers";
import { api } from "./api";
import { COMMUNITY_ACCOUNT, signedIn } from "./chain";
import { h, replace } from "./dom";
import { Problem } from "./errors";
import { t } from "./i18n";
import { activeAddress, onKeysChanged, unlockedWallet } from "./keys";
import { readQr } from "./qr";
import type { MemberOut, Page } from "./schemas";
import { act, errorBox, field, requireWallet, short, statusLine } from "./ui";

const SEARCH_DELAY_MS = 250;
const RESULTS = 8;

const known = new Map<string, Promise<MemberOut | null>>();
onKeysChanged((change) => {
  if (change !== "unlocked") known.clear();
});

let signingIn: { address: string; token: Promise<string> } | null = null;

/** The active key's sign-in token if it is unlocked; null (and no prompt) otherwise. A view
 * names many addresses at once: they share one sign-in, not one challenge each. */
async function quietToken(): Promise<string | null> {
  const wallet = unlockedWallet(activeAddress());
  if (!wallet) return null;
  if (signingIn?.address !== wallet.address) {
    const token = signedIn(wallet).finally(() => {
      if (signingIn?.token === token) signingIn = null;
    });
    signingIn = { address: wallet.address, token };
  }
  return signingIn.token;
}

/** The address in a scanned QR code: an EIP-681 `ethereum:0x…[@chain][/fn][?…]` or a plain one. */
export function addressFromQr(text: string): string | null {
  const match = /^(?:ethereum:)?(?:pay-)?(0x[0-9a-fA-F]{40})(?:[@/?].*)?$/i.exec(text.trim());
  return match && isAddress(match[1]) ? getAddress(match[1]) : null;
}

/** What a QR code of `address` holds (EIP-681, as wallets read it too). */
export function qrText(address: string): string {
  return `ethereum:${getAddress(address)}`;
}

/** `address`'s display name in community `cid`, or null: none chosen, or the reader not signed in. */
export function nameOf(cid: number, address: string): Promise<MemberOut | null> {
  const me = activeAddress();
  if (!me || !unlockedWallet(me) || address === COMMUNITY_ACCOUNT) return Promise.resolve(null);
  const key = `${me}|${cid}|${address}`;
  let found = known.get(key);
  if (!found) {
    found = quietToken()
      .then((token) =>
        token ? api<MemberOut | null>(`/v1/communities/${cid}/members/${address}`, { token, allow404: true }) : null,
      )
      .catch(() => {
        known.delete(key); // a failed read (the API away) is asked again next time
        return null;
      });
    known.set(key, found);
  }
  return found;
}

/** Forget what was read about `address` (after its owner renamed themselves). */
export function forgetName(cid: number, address: string): void {
  known.delete(`${activeAddress()}|${cid}|${address}`);
}

function nameWithTag(m: MemberOut): HTMLElement[] {
  return [h("span", { class: "person-name" }, m.name), h("span", { class: "person-tag" }, t("names.tag", { tag: m.tag }))];
}

/** A member as the page shows them: their name with its tag (a short address until it is known,
 * or if they chose none), and the full address under "details". */
export function person(cid: number, address: string): HTMLElement {
  const shown = h("span", { class: "person-name mono", title: address }, short(address));
  const el = h(
    "span",
    { class: "person", "data-testid": "person", "data-address": address },
    shown,
    h("details", { class: "person-details" }, h("summary", null, t("names.details")), h("code", { class: "mono wrap" }, address)),
  );
  void nameOf(cid, address).then((m) => {
    if (m) {
      shown.replaceWith(...nameWithTag(m));
      el.dataset.name = m.name;
    }
  });
  return el;
}

export interface PersonPicker {
  element: HTMLElement;
  /** The chosen address (checksummed), or null. */
  value(): string | null;
  setDisabled(disabled: boolean): void;
}

/** A person picker for community `cid`: search by name (big cards), scan a QR code, or give the
 * address under "details". `testid` names its address input (and prefixes its parts). */
export function personPicker(cid: number, label: string, testid: string): PersonPicker {
  let chosen: string | null = null;
  let searchNo = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const chosenLine = h("div", { class: "person-chosen", role: "status", "aria-live": "polite", "data-testid": `${testid}-chosen` });
  const search = h("input", { type: "search", autocomplete: "off", spellcheck: "false", enterkeyhint: "search", "data-testid": `${testid}-search` });
  const results = h("ul", { class: "person-results", "aria-label": t("names.results"), "data-testid": `${testid}-results` });
  const searchLine = statusLine(`${testid}-search-status`);
  const raw = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "0x…", "data-testid": testid });
  const details = h("details", { class: "person-raw", "data-testid": `${testid}-details` }, h("summary", null, t("names.details")), field(t("names.address"), raw, t("names.addressHint")));
  const photo = h("input", { type: "file", accept: "image/*", capture: "environment", hidden: true, tabindex: -1, "data-testid": `${testid}-qr-file` });
  const scanLine = statusLine(`${testid}-scan-status`);
  const scan = h("button", { type: "button", class: "secondary", "data-testid": `${testid}-scan` }, t("names.scan"));

  /** `address` chosen (null: none); `focus` when the control that chose it goes away with the
   * results (a card, the scan), so a keyboard or screen-reader user lands on the choice. */
  function choose(address: string | null, member?: MemberOut | null, focus = false): void {
    chosen = address;
    searchNo += 1;
    results.replaceChildren();
    replace(searchLine);
    if (address === null) {
      replace(chosenLine);
      return;
    }
    if (raw.value.trim() !== address) raw.value = address;
    search.value = "";
    const who = h("strong", null, short(address));
    const change = h("button", { type: "button", class: "secondary small", "data-testid": `${testid}-change` }, t("names.change"));
    change.addEventListener("click", () => {
      choose(null);
      raw.value = "";
      search.focus();
    });
    replace(chosenLine, t("names.chosen"), " ", who, " ", change);
    chosenLine.dataset.address = address;
    if (focus) change.focus();
    const show = (m: MemberOut | null): void => {
      if (m && chosen === address) who.replaceChildren(...nameWithTag(m));
    };
    if (member !== undefined) show(member);
    else void nameOf(cid, address).then(show);
  }

  function card(m: MemberOut): HTMLElement {
    return h(
      "li",
      null,
      h("button", { type: "button", class: "person-card", "data-testid": "person-card", "data-address": m.address, onclick: () => choose(m.address, m, true) }, ...nameWithTag(m)),
    );
  }

  async function find(q: string, token: string, mine: number): Promise<void> {
    const page = await api<Page<MemberOut>>(`/v1/communities/${cid}/members?q=${encodeURIComponent(q)}&limit=${RESULTS}`, { token });
    if (mine !== searchNo) return;
    results.replaceChildren(...page.items.map(card));
    replace(searchLine, page.items.length ? "" : t("names.none"));
    searchLine.dataset.status = page.items.length ? "found" : "none";
  }

  async function runSearch(): Promise<void> {
    const mine = ++searchNo;
    const q = search.value.trim();
    if (!q) {
      results.replaceChildren();
      replace(searchLine);
      return;
    }
    const token = await quietToken();
    if (mine !== searchNo) return;
    if (token) {
      await find(q, token, mine).catch((e: unknown) => replace(searchLine, errorBox(e)));
      return;
    }
    const unlock = h("button", { type: "button", class: "secondary", "data-testid": `${testid}-unlock` }, t("names.signInButton"));
    unlock.addEventListener("click", () => {
      void act(unlock, searchLine, async () => {
        await signedIn(await requireWallet());
        await runSearch();
      });
    });
    searchLine.dataset.status = "locked";
    replace(searchLine, t("names.signInToSearch"), " ", unlock);
  }

  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => void runSearch(), SEARCH_DELAY_MS);
  });
  // Enter searches now; it must not submit the form the picker sits in (with nobody chosen yet).
  search.addEventListener("keydown", (event: KeyboardEvent) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    clearTimeout(timer);
    void runSearch();
  });
  raw.addEventListener("input", () => {
    const text = raw.value.trim();
    if (isAddress(text)) choose(getAddress(text));
    else if (chosen !== null) choose(null);
  });
  scan.addEventListener("click", () => photo.click());
  photo.addEventListener("change", () => {
    const file = photo.files?.[0];
    photo.value = "";
    if (!file) return;
    void act(scan, scanLine, async () => {
      const address = addressFromQr((await readQr(file)) ?? "");
      if (!address) throw new Problem(t("names.scanFailed"));
      choose(address, undefined, true);
      return "";
    });
  });

  const element = h(
    "fieldset",
    { class: "person-picker", "data-testid": `${testid}-picker` },
    h("legend", null, label),
    chosenLine,
    field(t("names.search"), search, t("names.searchHint")),
    searchLine,
    results,
    h("div", { class: "row" }, scan, photo),
    h("small", { class: "hint" }, t("names.scanHint")),
    scanLine,
    details,
  );
  return {
    element,
    value: () => chosen,
    setDisabled: (disabled: boolean) => {
      element.disabled = disabled;
    },
  };
}
