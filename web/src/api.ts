// The only way the page talks to the outside: same-origin calls to the Commons Ledger API.
// Its request and response shapes are in schemas.ts, rendered from the API's OpenAPI document.
// Errors are classified so the page can say, in the reader's language, whether the API is
// unreachable, the chain behind it is down, or a contract rule refused the request.

import type { Page } from "./schemas";

export type Trouble = "down" | "chain" | "index" | "server" | null;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
  }

  get trouble(): Trouble {
    if (this.status === 0) return "down";
    if (this.code === "IndexInconsistent") return "index";
    if (this.status === 503 || this.status === 502 || this.status === 504) return "chain";
    if (this.status >= 500) return "server";
    return null;
  }
}

type Listener = (trouble: Trouble, error: ApiError | null) => void;
const listeners: Listener[] = [];

/** Called with the connection state after every API call (for the page-wide banner). */
export function onConnection(listener: Listener): void {
  listeners.push(listener);
}

function report(trouble: Trouble, error: ApiError | null): void {
  for (const l of listeners) l(trouble, error);
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT";
  json?: unknown;
  /** A JSON body already written, for a number JSON.stringify cannot write exactly (a uint64). */
  rawJson?: string;
  /** A bearer token from /v1/auth/login (`signedIn` in chain.ts). */
  token?: string;
  /** 404 answers return null instead of throwing (for "not there yet" reads). */
  allow404?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const posts = options.json !== undefined || options.rawJson !== undefined;
  const init: RequestInit = { method: options.method ?? (posts ? "POST" : "GET") };
  const headers: Record<string, string> = {};
  if (posts) {
    headers["Content-Type"] = "application/json";
    init.body = options.rawJson ?? JSON.stringify(options.json);
  }
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  init.headers = headers;
  let response: Response;
  try {
    response = await fetch(path, { ...init, cache: "no-store", credentials: "same-origin" });
  } catch (exc) {
    const error = new ApiError(0, "ApiUnreachable", String(exc));
    report("down", error);
    throw error;
  }
  if (response.status === 404 && options.allow404) {
    report(null, null);
    return null as T;
  }
  if (!response.ok) {
    let code = "HttpError";
    let detail = response.statusText;
    try {
      const body = (await response.json()) as { code?: string; detail?: string };
      code = body.code ?? code;
      detail = body.detail ?? detail;
    } catch {
      // not JSON: a proxy's or the server's own error page
    }
    const error = new ApiError(response.status, code, detail);
    report(error.trouble, error.trouble ? error : null);
    throw error;
  }
  report(null, null);
  return (await response.json()) as T;
}

/** Every item of a paged list (bounded: the page never asks for more than `max`). */
export async function allPages<T>(path: string, pageSize = 500, max = 20_000): Promise<T[]> {
  const out: T[] = [];
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; offset < max; offset += pageSize) {
    const page = await api<Page<T>>(`${path}${sep}limit=${pageSize}&offset=${offset}`);
    out.push(...page.items);
    if (out.length >= page.total || page.items.length === 0) break;
  }
  return out;
}
