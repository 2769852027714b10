// Anyone: the latest signed audit report, whether its signature holds, and who signed it. The
// report is made by `commons audit` from raw chain data; the page re-checks the Ed25519 signature
// itself, and names the signer only as the auditor who registered the key on-chain (the API
// looks the key up in the Registry): a valid signature by an unregistered key is a warning,
// since anyone can re-sign an edited report with a key of their own.

import { api } from "../api";
import { h } from "../dom";
import { t } from "../i18n";
import { badge, mono, when } from "../ui";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Report = Record<string, Json>;

function pick(obj: Report, ...names: string[]): Json | undefined {
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}

function decode(text: string): Uint8Array<ArrayBuffer> | null {
  const clean = text.trim();
  if (/^(0x)?[0-9a-fA-F]+$/.test(clean) && clean.replace(/^0x/, "").length % 2 === 0) {
    const hex = clean.replace(/^0x/, "");
    return new Uint8Array(hex.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
  }
  try {
    const raw = atob(clean.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function asObject(value: Json | undefined): Report | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
}

/** What this browser makes of the signature: "unsigned" (the report carries none), "unavailable"
 * (no WebCrypto here: a page not served over HTTPS or from this machine), or the verdict. */
export type SigState = "valid" | "invalid" | "unsigned" | "unavailable";

/** Check the Ed25519 signature over exactly the text it covers (the API's `signedText`), never
 * over a re-encoding of the parsed report: JSON.stringify writes Python's 2.0 as 2 and rounds
 * integers above 2^53, so a re-encoded real report never matched its signature. */
export async function verifySignature(signature: Json | undefined, signedText: Json | undefined): Promise<SigState> {
  const block = asObject(signature);
  if (!block) return "unsigned";
  const sig = pick(block, "value");
  const key = pick(block, "public_key");
  if (typeof sig !== "string" || typeof key !== "string" || typeof signedText !== "string") return "invalid";
  if (!globalThis.crypto?.subtle) return "unavailable";
  const sigBytes = decode(sig);
  const keyBytes = decode(key);
  if (!sigBytes || !keyBytes) return "invalid";
  try {
    const pub = await crypto.subtle.importKey("raw", keyBytes, { name: "Ed25519" }, false, ["verify"]);
    return (await crypto.subtle.verify({ name: "Ed25519" }, pub, sigBytes, new TextEncoder().encode(signedText))) ? "valid" : "invalid";
  } catch (error) {
    // A browser without Ed25519 in WebCrypto throws NotSupportedError: it cannot say.
    return error instanceof DOMException && error.name === "NotSupportedError" ? "unavailable" : "invalid";
  }
}

function sigText(state: SigState | null): string {
  if (state === null) return "—";
  return { valid: `✓ ${t("audit.valid")}`, invalid: `✗ ${t("audit.invalid")}`, unsigned: t("polish.audit.unsigned"), unavailable: t("audit.cannotCheck") }[state];
}

function summary(report: Report): HTMLElement {
  const body = (typeof report.report === "object" && report.report && !Array.isArray(report.report) ? report.report : report) as Report;
  const findings = pick(body, "findings");
  const list = Array.isArray(findings) ? findings : [];
  const facts: [string, Json | undefined][] = [
    ["audit.generated", typeof body.generated_at === "number" ? when(body.generated_at) : undefined],
    ["audit.chain", pick(body, "chain_id")],
    ["audit.blocks", pick(body, "to_block", "head", "block")],
    ["audit.build", pick(body, "build_manifest_hash")],
  ];
  return h(
    "div",
    null,
    h(
      "p",
      { class: "big", "data-testid": "audit-findings", "data-count": list.length },
      list.length === 0 ? badge(t("audit.clean"), "good") : badge(t("audit.findings", { n: list.length }), "bad"),
    ),
    h(
      "dl",
      { class: "facts" },
      facts.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h("dt", null, t(k)), h("dd", k === "audit.generated" ? { "data-testid": "audit-generated" } : null, typeof v === "string" && v.startsWith("0x") ? mono(v, 10) : String(v))]),
    ),
    list.length
      ? h(
          "ul",
          null,
          list.slice(0, 50).map((f) => {
            const item = (typeof f === "object" && f && !Array.isArray(f) ? f : { rule: String(f) }) as Report;
            return h("li", null, h("strong", null, String(pick(item, "rule") ?? "?")), " ", String(pick(item, "detail", "message") ?? ""), pick(item, "tx") ? [" ", mono(String(item.tx), 8)] : null);
          }),
        )
      : null,
  );
}

function signerLine(signer: Report | null, registered: boolean): HTMLElement {
  const auditor = signer ? pick(signer, "auditor") : undefined;
  if (registered && typeof auditor === "string") {
    return h(
      "p",
      { "data-testid": "audit-signer", "data-registered": "true", "data-auditor": auditor },
      `✓ ${t("audit.signedBy")} `,
      mono(auditor, 10),
      " ",
      t("audit.signerWhere", { community: String(pick(signer ?? {}, "community") ?? "?"), block: String(pick(signer ?? {}, "registeredAtBlock") ?? "?") }),
    );
  }
  return h(
    "div",
    { "data-testid": "audit-signer", "data-registered": "false", role: "alert" },
    h("p", null, badge(`⚠ ${t("audit.unregistered")}`, "bad")),
    h("p", { class: "hint" }, t("audit.unregisteredHint"), signer && typeof signer.detail === "string" ? ` (${signer.detail})` : ""),
  );
}

export async function auditView(): Promise<HTMLElement> {
  const report = await api<Report | null>("/v1/audit/reports/latest", { allow404: true });
  const heading = h("h1", { tabindex: "-1" }, t("audit.heading"));
  if (!report) {
    return h(
      "section",
      { "data-testid": "audit" },
      heading,
      h("p", { class: "notice", "data-testid": "audit-missing" }, t("audit.missing")),
      h("p", { class: "hint" }, t("audit.howto")),
    );
  }
  const signedText = pick(report, "signedText");
  const local = await verifySignature(report.signature, signedText);
  // Shown is what was verified: the signed text itself, parsed, when there is one.
  const shown = typeof signedText === "string" && local === "valid" ? { ...report, report: JSON.parse(signedText) as Json } : report;
  const unsigned = local === "unsigned";
  const apiValid = pick(report, "signatureValid");
  const apiSays: SigState | null = unsigned ? "unsigned" : typeof apiValid === "boolean" ? (apiValid ? "valid" : "invalid") : null;
  const signer = asObject(report.signer);
  const registered = signer?.registered === true && local !== "invalid" && apiSays === "valid";
  const tone = unsigned ? "" : local === "invalid" || apiSays === "invalid" || !registered ? "check-bad" : "check-ok";
  return h(
    "section",
    { "data-testid": "audit" },
    heading,
    h("p", { class: "lead" }, t("audit.intro")),
    h(
      "div",
      { class: `check ${tone}`, "data-testid": "audit-verification", "data-browser": local === "valid" ? "true" : local === "invalid" ? "false" : local, "data-api": String(apiSays) },
      h("p", null, t("audit.sigBrowser"), " ", sigText(local)),
      h("p", null, t("audit.sigApi"), " ", sigText(apiSays)),
      unsigned
        ? h("p", { class: "notice", "data-testid": "audit-unsigned" }, t("polish.audit.unsignedHint"))
        : signerLine(signer, registered),
    ),
    summary(shown),
    h("details", null, h("summary", null, t("audit.raw")), h("pre", { class: "raw" }, JSON.stringify(shown, null, 2).slice(0, 50_000))),
  );
}
