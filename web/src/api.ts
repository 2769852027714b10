// The only way the page talks to the outside: same-origin calls to the Commons Ledger API.
// Errors are classified so the page can say, in the reader's language, whether the API is
// unreachable, the chain behind it is down, or a contract rule refused the request.

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
  /** A bearer token from /v1/auth/login (`signedIn` in chain.ts). */
  token?: string;
  /** 404 answers return null instead of throwing (for "not there yet" reads). */
  allow404?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const init: RequestInit = { method: options.method ?? (options.json ? "POST" : "GET") };
  const headers: Record<string, string> = {};
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
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

// --- response shapes (api/schemas.py) ----------------------------------------------------------

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface ChainOut {
  chain_id: number;
  head: number;
  indexed_head: number | null;
  deployment_block: number;
  contracts: Record<string, string>;
  build_manifest_hash: string;
  relay: Record<string, number>;
}

export type ReceiptStatus = "queued" | "sent" | "included" | "counted" | "rejected";

/** The relay's signed promise (ledger/signing/acks.py). */
export interface AckOut {
  message: string;
  accepted_at: number;
  land_by: number;
  relayer: string;
  signature: string;
}

export interface ReceiptOut {
  id: string;
  kind: "ballot" | "service" | "forward";
  status: ReceiptStatus;
  signer: string;
  tx_hash: string | null;
  block: number | null;
  detail: string | null;
  accepted_at: number;
  updated_at: number;
  ack?: AckOut | null;
}

export interface ProposalOut {
  id: number;
  community_id: number;
  proposer: string;
  text_hash: string;
  text: string | null;
  text_matches: boolean | null;
  kind: "YesNoAbstain" | "MultipleChoice";
  option_count: number;
  opens_at: number;
  closes_at: number;
  quorum_bps: number;
  threshold_bps: number;
  budget_amount: number;
  budget_currency: string;
  roll_version: number;
  roll_size: number;
  state: "Pending" | "Open" | "Closed" | "Finalized";
  outcome: "None" | "Passed" | "Rejected" | "NoQuorum";
  winning_option: number;
  tally: number[];
  turnout: number;
  execution: "NotStarted" | "InProgress" | "Completed";
  milestone_count: number;
}

export interface EventOut {
  block: number;
  tx_hash: string;
  log_index: number;
  event: string;
  args: Record<string, unknown>;
}

export interface CommunityOut {
  id: number;
  admin: string;
  roll_version: number;
  roll_size: number;
  committee_size: number;
  roles: Record<string, string[]>;
}

export interface FundOut {
  community_id: number;
  currency: string;
  approval_threshold: number;
  total_income: number;
  available: number;
  reserved: number;
  total_paid: number;
}

export interface GrantOut {
  proposal_id: number;
  community_id: number;
  amount: number;
  paid: number;
  state: string;
}

export interface PayoutOut {
  request_id: number;
  proposal_id: number;
  recipient: string;
  amount: number;
  requester: string;
  status: string;
  approvers: string[];
}

export interface TrailEntryOut {
  block: number;
  tx_hash: string;
  step: string;
  proposal_id: number | null;
  request_id: number | null;
  amount: number;
  party: string | null;
  reference: string | null;
}

export interface BalanceOut {
  account: string;
  minutes: number;
}

export interface ServiceRecordJson {
  provider: string;
  recipient: string;
  minutesServed: number;
  category: string;
  noteHash: string;
  nonce: number;
}

export interface PendingServiceOut {
  id: string;
  communityId: number;
  record: ServiceRecordJson;
  providerSig: string;
  created_at: number;
}

export interface TextOut {
  hash: string;
  text: string;
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
