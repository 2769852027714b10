// An off-chain text in two languages: its body is a small JSON object {"en": "...", "zh": "..."}
// (the demo's proposals and milestones are written so). The hash on the chain is over the whole
// body, so both languages are committed to at once; the page shows the reader's language, the
// other one when that is missing, and any other body as it is.

import { lang } from "./i18n";

export function textIn(body: string, language: string = lang()): string {
  const trimmed = body.trim();
  if (!trimmed.startsWith("{")) return body;
  try {
    const parsed = JSON.parse(trimmed) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return body;
    const texts = parsed as Record<string, unknown>;
    const pick = texts[language] ?? texts.en ?? texts.zh;
    return typeof pick === "string" ? pick : body;
  } catch {
    return body;
  }
}
