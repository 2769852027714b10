// What a reader has typed, ticked or picked on a view, carried over when the same view is drawn
// again because the language or the text size changed. Both toggles redraw the whole view (every
// word changes; charts are drawn for the text size), and a resident who enlarges the text half
// way through a ballot must not find it empty. Held in memory for that one redraw only: nothing
// is stored, so no choice outlives the page.
//
// A control is known by its data-testid (a radio or checkbox without one by its name and value);
// a key found more than once on either side is ambiguous and left alone. A control whose value
// is put back gets the `input` and `change` events a person's edit would fire, so a view that
// keeps its own state (a total, a picked person) follows it. A view whose choices are not form
// controls (a ranking made by taps) writes them to a `data-draft` attribute on an element with a
// data-testid, and listens there for the `draft` event that brings them back (DraftEvent).

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
type Value = string | boolean;

/** The controls' values under one view, by key, in document order. */
export type FormDraft = Map<string, Value>;

/** The `draft` event's detail. A view that brings its part back only after a wait (a form loaded
 * from the API) calls `resume` once it is drawn, and the controls inside it are filled then. */
export interface DraftEvent {
  resume(): void;
}

const UNKEPT = new Set(["password", "file", "hidden", "submit", "button", "reset", "image"]);

function ticks(el: Control): el is HTMLInputElement {
  return el instanceof HTMLInputElement && (el.type === "radio" || el.type === "checkbox");
}

function keyOf(el: Control): string | null {
  if (el instanceof HTMLInputElement && UNKEPT.has(el.type)) return null;
  const testid = el.dataset.testid;
  if (testid) return ticks(el) && el.type === "radio" ? `${testid}=${el.value}` : testid;
  if (ticks(el) && el.name) return `${el.name}=${el.value}`;
  return null;
}

function isControl(el: HTMLElement): el is Control {
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement;
}

function valueOf(el: HTMLElement): Value {
  if (el instanceof HTMLDetailsElement) return el.open;
  if (isControl(el)) return ticks(el) ? el.checked : el.value;
  return el.dataset.draft ?? "";
}

/** Every keyed control, <details> and view draft under `root`; an ambiguous key maps to null. */
function keyed(root: HTMLElement): Map<string, HTMLElement | null> {
  const found = new Map<string, HTMLElement | null>();
  for (const el of root.querySelectorAll<HTMLElement>("input, select, textarea, details, [data-draft]")) {
    const testid = el.dataset.testid;
    let key: string | null = null;
    if (isControl(el)) key = keyOf(el);
    else if (testid) key = `${el instanceof HTMLDetailsElement ? "details" : "draft"}:${testid}`;
    if (key !== null) found.set(key, found.has(key) ? null : el);
  }
  return found;
}

/** What the reader has entered under `root`, to give back to its next drawing. */
export function captureDraft(root: HTMLElement): FormDraft {
  const draft: FormDraft = new Map();
  for (const [key, el] of keyed(root)) if (el !== null) draft.set(key, valueOf(el));
  return draft;
}

/** Put `draft` back into the freshly drawn `root`. Keys are looked up afresh before each one,
 * because a control's event may redraw part of the view (an approval ballot redraws itself). */
export function restoreDraft(root: HTMLElement, draft: FormDraft): void {
  // Twice: a control one choice enables (the number of options once "several options" is
  // picked) may come before that choice in the page.
  for (let pass = 0; pass < 2; pass++) for (const [key, value] of draft) restoreOne(root, draft, key, value);
}

function restoreOne(root: HTMLElement, draft: FormDraft, key: string, value: Value): void {
  const el = keyed(root).get(key);
  if (!el || valueOf(el) === value) return;
  if (el instanceof HTMLDetailsElement) {
    el.open = value === true;
    return;
  }
  if (!isControl(el)) {
    el.dataset.draft = String(value);
    const detail: DraftEvent = { resume: () => restoreDraft(root, draft) };
    el.dispatchEvent(new CustomEvent("draft", { detail }));
    return;
  }
  if (el.disabled) return;
  if (ticks(el)) {
    // Unticking a radio is not something a person can do; ticking another unticks it.
    if (el.type === "radio" && value !== true) return;
    el.checked = value === true;
  } else if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === value)) {
    return; // the choice is no longer offered
  } else el.value = String(value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

/** Candidate numbers kept as "2,0,1" in a draft: distinct, each below `count`; null if not. */
export function keptChoices(text: string, count: number): number[] | null {
  const kept = text ? text.split(",").map(Number) : [];
  const fine = kept.every((c) => Number.isInteger(c) && c >= 0 && c < count) && new Set(kept).size === kept.length;
  return fine ? kept : null;
}
