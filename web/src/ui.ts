// Shared page pieces: formatting, the unlock dialog, action buttons with their status line,
// and receipt tracking.

import type { Wallet } from "ethers";
import { ApiError, api } from "./api";
import type { ChainOut, ReceiptOut } from "./schemas";
import { h, replace, type Child } from "./dom";
import { lang, t } from "./i18n";
import { Problem, codeIn, reasonOf, type Reason } from "./errors";
import { KeyError, activeAddress, listKeys, unlock, unlockedWallet } from "./keys";

export function short(value: string | null | undefined, keep = 6): string {
  if (!value) return "—";
  return value.length > 2 * keep + 3 ? `${value.slice(0, keep + 2)}…${value.slice(-keep + 2)}` : value;
}

export function mono(value: string | null | undefined, keep = 6): HTMLElement {
  return h("code", { class: "mono", title: value ?? "" }, short(value, keep));
}

export function money(minor: number, currency: string): string {
  const code = currency || "CNY";
  try {
    const f = new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB", { style: "currency", currency: code });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(minor / 10 ** digits);
  } catch {
    return `${(minor / 100).toFixed(2)} ${code}`;
  }
}

/** "1,000.50" in major units -> 100050 minor units, without floating point. */
export function parseMoney(text: string, digits = 2): number | null {
  const m = /^\s*(\d{1,13})(?:[.,](\d{0,2}))?\s*$/.exec(text.replace(/[,，\s](?=\d{3}\b)/g, ""));
  if (!m) return null;
  const frac = (m[2] ?? "").padEnd(digits, "0").slice(0, digits);
  return Number(m[1]) * 10 ** digits + Number(frac || "0");
}

export function when(unix: number): string {
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
  }).format(new Date(unix * 1000));
}

export function percent(part: number, whole: number): string {
  if (whole <= 0) return "—";
  return new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB", { style: "percent", maximumFractionDigits: 1 }).format(
    part / whole,
  );
}

export function bps(value: number): string {
  return percent(value, 10_000);
}

/** What went wrong and what to do, in the reader's language (the code is kept for "details"). */
export interface Failure {
  what: string;
  todo: string | null;
  code: string | null;
  detail: string | null;
  reason: Reason | null;
}

export function failure(error: unknown): Failure {
  if (error instanceof ApiError) {
    const reason = reasonOf(error.code, error.status);
    const detail = error.detail && error.detail !== error.code ? error.detail : null;
    return { what: t(`why.${reason}`), todo: t(`todo.${reason}`), code: error.code, detail, reason };
  }
  const plain = (what: string): Failure => ({ what, todo: null, code: null, detail: null, reason: null });
  if (error instanceof KeyError) return plain(t(`key.err.${error.code}`));
  if (error instanceof Problem) return plain(error.message);
  if (error instanceof RangeError) return plain(t("err.input", { what: error.message }));
  if (error instanceof Error && error.name === "AbortError") return plain(t("err.cancelled"));
  const detail = error instanceof Error ? error.message : String(error);
  return { what: t("err.unexpected", { detail }), todo: null, code: null, detail: null, reason: null };
}

/** The failure as one line of text (for the unlock dialog and the live region). */
export function errorText(error: unknown): string {
  const f = failure(error);
  return f.todo ? `${f.what} ${f.todo}` : f.what;
}

// Reasons the reader can act on only by showing who they are (to the office, the admin).
const SHOW_ADDRESS = new Set<Reason>(["notOnRoll", "committeeOnly", "missingRole", "adminOnly", "coordinatorOnly"]);

export function errorBox(error: unknown): HTMLElement {
  const f = failure(error);
  const me = f.reason && SHOW_ADDRESS.has(f.reason) ? activeAddress() : null;
  return h(
    "div",
    { class: "error", role: "alert", "data-testid": "error", "data-code": f.code ?? undefined, "data-reason": f.reason ?? undefined },
    h("p", { class: "error-what" }, h("span", { "aria-hidden": "true" }, "⚠ "), h("strong", null, f.what)),
    f.todo ? h("p", { class: "error-todo", "data-testid": "error-todo" }, f.todo) : null,
    me ? h("p", null, t("fail.yourAddress"), " ", h("code", { class: "mono wrap", "data-testid": "error-address" }, me)) : null,
    f.code
      ? h(
          "details",
          { class: "error-details" },
          h("summary", null, t("fail.details")),
          h("p", null, t("fail.code"), " ", h("code", { "data-testid": "error-code" }, f.code)),
          f.detail ? h("p", { class: "wrap" }, t("fail.server"), " ", f.detail) : null,
        )
      : null,
  );
}

/** A failure shown above the view (kept until dismissed or the reader moves on). */
export function showProblem(error: unknown): void {
  const region = document.getElementById("problem");
  if (!region) return;
  const close = h("button", { type: "button", class: "secondary small", "data-testid": "problem-dismiss" }, t("fail.dismiss"));
  close.addEventListener("click", () => clearProblem());
  replace(region, errorBox(error), close);
  region.hidden = false;
}

export function clearProblem(): void {
  const region = document.getElementById("problem");
  if (!region) return;
  region.hidden = true;
  region.replaceChildren();
}

export function loading(): HTMLElement {
  return h("p", { class: "muted", "aria-busy": "true" }, t("loading"));
}

export function announce(message: string): void {
  const live = document.getElementById("live");
  if (live) live.textContent = message;
}

// --- the unlock dialog ---------------------------------------------------------------------

class Cancelled extends Error {
  override name = "AbortError";
}

/** The active key, decrypted: asks for its passphrase if it is locked. */
export async function requireWallet(): Promise<Wallet> {
  const address = activeAddress();
  if (!address) {
    location.hash = "#/keys";
    throw new KeyError("BadKey");
  }
  const open = unlockedWallet(address);
  if (open) return open;
  return askPassphrase(address);
}

export function askPassphrase(address: string): Promise<Wallet> {
  const entry = listKeys().find((k) => k.address === address);
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": "unlock-title", "data-testid": "unlock-dialog" });
  const input = h("input", {
    type: "password",
    id: "unlock-pass",
    autocomplete: "current-password",
    required: true,
    "data-testid": "unlock-passphrase",
  });
  const message = h("p", { class: "error", role: "alert" });
  return new Promise<Wallet>((resolve, reject) => {
    const cancel = (): void => {
      dialog.close();
      dialog.remove();
      reject(new Cancelled());
    };
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: async (event: Event) => {
          event.preventDefault();
          submit.disabled = true;
          replace(message, t("key.unlocking"));
          try {
            const wallet = await unlock(address, input.value);
            dialog.close();
            dialog.remove();
            resolve(wallet);
          } catch (error) {
            replace(message, errorText(error));
            submit.disabled = false;
            input.select();
          }
        },
      },
      h("h2", { id: "unlock-title" }, t("key.unlockTitle")),
      h("p", null, entry?.label ?? "", " ", mono(address)),
      h("label", { for: "unlock-pass" }, t("key.passphrase")),
      input,
      message,
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", class: "secondary", onclick: cancel }, t("cancel")),
      ),
    );
    const submit = h("button", { type: "submit", "data-testid": "unlock-submit" }, t("key.unlock"));
    form.lastElementChild?.appendChild(submit);
    dialog.appendChild(form);
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      cancel();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    input.focus();
  });
}

// --- actions and receipts --------------------------------------------------------------------

const FINAL = new Set(["counted", "rejected"]);

/** Poll a relay receipt until it is counted or rejected, showing each status in `line`. */
export async function track(receipt: ReceiptOut, line: HTMLElement, timeoutMs = 90_000): Promise<ReceiptOut> {
  const started = Date.now();
  let current = receipt;
  for (;;) {
    showReceipt(line, current);
    if (FINAL.has(current.status)) return current;
    if (Date.now() - started > timeoutMs) return current;
    await new Promise((r) => setTimeout(r, 300));
    try {
      current = await api<ReceiptOut>(`/v1/receipts/${current.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.trouble) {
        replace(line, errorBox(error));
        throw error;
      }
      throw error;
    }
  }
}

export function showReceipt(line: HTMLElement, r: ReceiptOut): void {
  line.dataset.status = r.status;
  line.className = `status status-${r.status}`;
  replace(
    line,
    h("strong", null, t(`receipt.status.${r.status}`)),
    " · ",
    t("receipt.id"),
    " ",
    mono(r.id),
    r.txHash ? [" · ", t("receipt.block"), " ", String(r.block ?? "—")] : null,
  );
  if (r.status === "rejected") line.appendChild(errorBox(refusal(r)));
}

/** Why a receipt was not counted: the rule its detail names, said as the API would say it. */
function refusal(r: ReceiptOut): Error {
  const code = codeIn(r.detail ?? "");
  if (code) return new ApiError(422, code, r.detail ?? code);
  return new Problem(t("receipt.notCounted", { status: t(`receipt.status.${r.status}`), detail: r.detail ?? "" }));
}

/**
 * Run `work` for a button: disabled while it runs, its outcome shown in `line` (an aria-live
 * region), and errors said in the reader's language.
 */
export async function act(
  button: HTMLButtonElement | null,
  line: HTMLElement,
  work: () => Promise<Child | void>,
): Promise<boolean> {
  if (button) button.disabled = true;
  clearProblem(); // a new attempt supersedes what the last one left above the view
  line.className = "status";
  line.dataset.status = "working";
  replace(line, t("working"));
  try {
    const shown = await work();
    if (shown !== undefined) replace(line, shown);
    if (line.dataset.status === "working") line.dataset.status = "done";
    return true;
  } catch (error) {
    line.dataset.status = "error";
    line.className = "status status-error";
    replace(line, errorBox(error));
    // The view may have been redrawn while the action ran: never let a refusal go unsaid.
    if (!line.isConnected) showProblem(error);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Sign-and-relay for committee actions: forward, then track to counted. */
export async function relayed(line: HTMLElement, send: () => Promise<ReceiptOut>): Promise<ReceiptOut> {
  const receipt = await send();
  const final = await track(receipt, line);
  if (final.status !== "counted") throw refusal(final);
  return final;
}

export function statusLine(testid: string): HTMLElement {
  return h("p", { class: "status", role: "status", "aria-live": "polite", "data-testid": testid });
}

export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  if (!input.id) input.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  const hintEl = hint ? h("small", { id: `${input.id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hintEl);
}

export function badge(text: string, tone = "neutral", testid?: string): HTMLElement {
  return h("span", { class: `badge badge-${tone}`, "data-testid": testid }, text);
}

/** Wait until the API's index has read `block` (lists come from the index; state from the chain). */
export async function waitIndexed(block: number | null, timeoutMs = 15_000): Promise<void> {
  if (block === null) return;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const c = await api<ChainOut>("/v1/chain");
    if ((c.indexedHead ?? -1) >= block) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A data table that becomes one card per row on a phone (styles.css, `table.cards`): each cell
 * is labelled with its column's header, and the table's roles are set explicitly, since a
 * browser may drop a table's semantics once CSS lays its rows out as blocks.
 */
export function cardTable(table: HTMLTableElement): HTMLTableElement {
  table.classList.add("cards");
  table.setAttribute("role", "table");
  const heads = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent ?? "");
  for (const group of table.querySelectorAll("thead, tbody")) group.setAttribute("role", "rowgroup");
  for (const th of table.querySelectorAll("thead th")) th.setAttribute("role", "columnheader");
  for (const row of table.querySelectorAll("tr")) {
    row.setAttribute("role", "row");
    Array.from(row.children).forEach((cell, i) => {
      if (cell.tagName !== "TD") return;
      cell.setAttribute("role", "cell");
      cell.setAttribute("data-label", heads[i] ?? "");
    });
  }
  return table;
}
