// The API's request and response shapes, rendered from its OpenAPI document by
// tools/api_types.py (`python -m tools.api_types`). Do not edit by hand:
// tests/api/test_api_types.py fails when this file differs from the API.

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** The relay's signed promise (EIP-712 `Acknowledgement(bytes32 message, uint64 acceptedAt, uint64 landBy)`, domain "CommonsRelay" v1 on this chain and forwarder): keep it; a message acknowledged and not on the chain by `landBy` is provable with it. */
export interface AckOut {
  /** the EIP-712 digest the sender signed */
  message: string;
  /** unix seconds */
  acceptedAt: number;
  /** the block by which the message will be on the chain */
  landBy: number;
  /** the relayer address that signed this acknowledgement */
  relayer: string;
  /** 65 bytes r ‖ s ‖ v, by `relayer` */
  signature: string;
}

/** One acknowledged message as the relay exports it: the signed acknowledgement with what it names (the receipt, its kind and the signed payload), so anyone can check it landed. */
export interface AckedOut {
  /** its place in the outbox, in acceptance order */
  position: number;
  /** receipt id */
  id: string;
  kind: "ballot" | "service" | "forward" | "election-ballot" | "cosignature" | "rating" | "mandate" | "proxy-ballot" | "budget-ballot" | "in-person-ballot" | "secret-ballot" | "box-totals" | "election-proxy-ballot";
  status: "queued" | "sent" | "included" | "counted" | "rejected";
  /** the signed message, as it was accepted */
  payload: Record<string, unknown>;
  ack: AckOut;
}

/** A page of acknowledgements, oldest first. */
export interface AcksPage {
  items: AckedOut[];
  /** `after` for the next page (the last item's position); null on the last page */
  nextAfter: number | null;
}

/** Which blocks to audit (default: from the deployment block to the head). */
export interface AuditIn {
  fromBlock?: number | null;
  toBlock?: number | null;
  /** prove every recomputed storage word, not a sample */
  allProofs?: boolean;
}

export interface AuditJobOut {
  jobId: string;
  status: "queued" | "running" | "done" | "failed";
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  progress: AuditProgressOut | null;
  /** true when the audit found nothing wrong */
  ok: boolean | null;
  findings: number | null;
  warnings: number | null;
  /** why the audit could not be carried out */
  error: string | null;
}

export interface AuditProgressOut {
  /** compile, walk, views, proofs or done */
  phase: string;
  block: number;
  first: number;
  last: number;
  fraction: number;
  /** ballots judged so far */
  ballots: number;
  /** findings so far */
  findings: number;
}

export interface BalanceOut {
  account: string;
  minutes: number;
}

/** A resident's EIP-712 ballot: Ballot(uint256 proposalId,address voter,uint8 option) under the domain ("CommonsCouncil", "1", chainId, council address). */
export interface BallotIn {
  proposalId: number;
  voter: string;
  option: number;
  signature: string;
}

/** A counted paper box's ballots; `label` from the text store (None if nobody stored it). */
export interface BoxCountOut {
  boxId: number;
  label: string | null;
  ballots: number;
}

/** One officer's signed totals of a box, as the chain's calldata holds them. */
export interface BoxSignatureOut {
  officer: string;
  totalsHash: string;
  choices: string[];
  counts: number[];
  certificateHash: string;
}

/** A poll officer's EIP-712 totals of a paper box: BoxTotals(uint256 boxId,uint64[] choices, uint32[] counts,bytes32 certificateHash,address officer) under the poll office's domain, signed by `officer`; `choices[i]` a ballot pattern encoded as an online ballot's, `counts[i]` the ballots carrying it, `certificateHash` keccak256 of the closure certificate's photo. */
export interface BoxTotalsIn {
  boxId: number;
  choices: number[];
  counts: number[];
  certificateHash: string;
  officer: string;
  signature: string;
}

/** A resident's EIP-712 budget ballot: BudgetBallot(uint256 roundId,address voter,uint256 projects) under the domain ("CommonsBudget", "1", chainId, ParticipatoryBudget address); `projects` is the bitmap of chosen projects (bit i = project i in submission order). */
export interface BudgetBallotIn {
  roundId: number;
  voter: string;
  projects: number;
  signature: string;
}

/** A project's full description and the resident's signed ERC-2771 request calling `ParticipatoryBudget.submitProject(roundId, keccak256(text), cost)`. */
export interface BudgetProjectIn {
  text: string;
  request: ForwardRequestIn;
}

export interface BudgetProjectOut {
  index: number;
  proposer: string;
  textHash: string;
  /** its description if this service holds it */
  text: string | null;
  cost: number;
  votes: number;
  eligible: boolean;
  selected: boolean;
  completed: boolean;
  /** the id its grant and its ratings go by (IParticipatoryBudget.grantIdOf: 2^255 | roundId << 8 | index), as a decimal string since it is past 2^53; residents rate the completed project by signing it as the Rating's proposalId */
  ratingsId: string;
}

export interface BudgetRoundOut {
  roundId: number;
  communityId: number;
  textHash: string;
  budget: number;
  currency: string;
  rule: string;
  minProjects: number;
  maxProjects: number;
  submissionOpensAt: number;
  submissionClosesAt: number;
  votingOpensAt: number;
  votingClosesAt: number;
  rollVersion: number;
  rollSize: number;
  state: string;
  ballotCount: number;
  selectionBudget: number;
  spent: number;
  projects: BudgetProjectOut[];
  /** the selection step by step, in walk order (empty until it runs) */
  walk: BudgetStepOut[];
}

export interface BudgetRoundsOut {
  communityId: number;
  /** the community's rounds, newest first */
  roundIds: number[];
}

/** One project's turn in the selection's walk; `remaining` is the budget left after it. */
export interface BudgetStepOut {
  index: number;
  votes: number;
  cost: number;
  remaining: number;
  selected: boolean;
}

/** A balance carried over from a replaced key to its replacement (BalanceCarriedOver). */
export interface CarriedOverOut {
  fromAccount: string;
  toAccount: string;
  minutes: number;
  block: number;
  timestamp: number;
  txHash: string;
}

export interface ChainOut {
  chainId: number;
  head: number;
  /** the head block's time: the chain's clock */
  headTimestamp: number;
  indexedHead: number | null;
  deploymentBlock: number;
  contracts: Record<string, string>;
  buildManifestHash: string;
  /** messages per receipt status */
  relay: Record<string, number>;
}

export interface ChallengeIn {
  address: string;
}

export interface ChallengeOut {
  nonce: string;
  /** sign this text with personal_sign (EIP-191) */
  message: string;
  expiresAt: number;
}

/** A resident's EIP-712 co-signature: CoSignature(uint256 initiativeId,address signer) under the domain ("CommonsInitiatives", "1", chainId, initiatives address). */
export interface CoSignatureIn {
  initiativeId: number;
  signer: string;
  signature: string;
}

export interface CommunityOut {
  id: number;
  admin: string;
  rollVersion: number;
  rollSize: number;
  committeeSize: number;
  roles: Record<string, string[]>;
}

/** What a community's admin decides, as it stands: who holds each role (from the index), the admin role's pending transfer, the fund's currency and payout approvals, the time bank's balance limits (from the chain). */
export interface CommunitySettingsOut {
  id: number;
  admin: string;
  /** offered the admin role, until they accept */
  pendingAdmin: string | null;
  roles: Record<string, string[]>;
  committeeSize: number;
  /** the fund's ISO 4217 code; "" until the admin sets it */
  currency: string;
  /** committee approvals each payout needs; 0: unset */
  approvalThreshold: number;
  /** the lowest time-bank balance (0 or less) */
  floorMinutes: number;
  /** the highest time-bank balance (0 or more) */
  ceilingMinutes: number;
}

export interface CompletedProjectOut {
  roundId: number;
  project: BudgetProjectOut;
}

export interface CompletedProjectsOut {
  communityId: number;
  /** the community's completed budget projects, newest round first */
  projects: CompletedProjectOut[];
}

export interface ConfirmServiceIn {
  recipientSig: string;
}

export interface ContractOut {
  address: string;
  abi: Record<string, unknown>[];
}

/** A resident's EIP-712 election ballot: ElectionBallot(uint256 electionId,address voter, uint64 choices) under the domain ("CommonsElections", "1", chainId, elections address); `choices` as docs/elections.md encodes a ranking or an approval set. */
export interface ElectionBallotIn {
  electionId: number;
  voter: string;
  choices: number;
  signature: string;
}

export interface ElectionOut {
  electionId: number;
  communityId: number;
  candidates: string[];
  seats: number;
  kind: "Ranked" | "Approval";
  maxChoices: number;
  opensAt: number;
  closesAt: number;
  rollVersion: number;
  rollSize: number;
  state: "Pending" | "Open" | "Closed" | "Counted";
  ballotCount: number;
  onlineCount: number;
  inPersonCount: number;
  paperCount: number;
  boxCounts: BoxCountOut[];
  proxyCount: number;
  tally: number[];
  winners: number[];
  statements: (string | null)[];
}

/** A proxy's EIP-712 election ballot for a resident: ElectionProxyBallot(uint256 electionId, address voter,address proxy,uint64 choices) under the domain ("CommonsElectionProxies", "1", chainId, election proxies address), signed by `proxy`; `choices` encoded as an election ballot's (docs/elections.md). */
export interface ElectionProxyBallotIn {
  electionId: number;
  voter: string;
  proxy: string;
  choices: number;
  signature: string;
}

/** One round of a seat's count, as the RoundCounted (and VotesTransferred) events say. */
export interface ElectionRoundOut {
  round: number;
  tally: number[];
  exhausted: number;
  eliminated: number | null;
  transferredFrom: number | null;
  received: number[] | null;
}

/** The count so far, seat by seat and round by round, replayed from the index. */
export interface ElectionRoundsOut {
  electionId: number;
  kind: "Ranked" | "Approval";
  seats: ElectionSeatOut[];
}

export interface ElectionSeatOut {
  seat: number;
  rounds: ElectionRoundOut[];
  elected: number | null;
  votes: number | null;
}

/** Every error response: a machine code (a contract's custom error name where there is one) and a human reason. */
export interface ErrorOut {
  code: string;
  detail: string;
}

/** One contract event as indexed from the chain (ints as decimal strings where > 2^53). */
export interface EventOut {
  block: number;
  txHash: string;
  logIndex: number;
  event: string;
  args: Record<string, unknown>;
}

/** An ERC-2771 ForwardRequest signed (EIP-712, domain "CommonsForwarder" v1) by `from`. */
export interface ForwardRequestIn {
  from: string;
  to: string;
  value?: number;
  gas: number;
  nonce: number;
  deadline: number;
  data: string;
  signature: string;
}

export interface FundOut {
  communityId: number;
  currency: string;
  approvalThreshold: number;
  totalIncome: number;
  available: number;
  reserved: number;
  totalPaid: number;
}

export interface GrantOut {
  proposalId: number;
  communityId: number;
  amount: number;
  paid: number;
  state: string;
}

export interface HealthOut {
  ok: boolean;
  /** the node's newest block */
  head: number;
  index: IndexHealthOut;
}

export interface HeldMandateOut {
  resident: string;
  scope: "AllVotes" | "Proposal" | "Election";
  voteId: number;
}

/** The residents whose live mandates a proxy holds in a community. */
export interface HeldOut {
  communityId: number;
  proxy: string;
  mandates: HeldMandateOut[];
  limit: number;
}

/** A poll officer's EIP-712 in-person ballot for a resident present at the polling place: InPersonBallot(uint256 electionId,address voter,uint64 choices,address officer) under the domain ("CommonsPollOffice", "1", chainId, poll office address), signed by `officer`; `choices` encoded as an online ballot's. */
export interface InPersonBallotIn {
  electionId: number;
  voter: string;
  choices: number;
  officer: string;
  signature: string;
}

export interface IndexHealthOut {
  /** the index agrees with the chain's logs */
  consistent: boolean;
  /** what disagrees, while it does */
  problem: string | null;
}

/** An initiative's full text and the author's signed ERC-2771 request calling `Initiatives.submit(communityId, keccak256(text), budgetAmount, budgetCurrency)`. */
export interface InitiativeIn {
  text: string;
  request: ForwardRequestIn;
}

export interface InitiativeOut {
  id: number;
  communityId: number;
  author: string;
  textHash: string;
  /** the full text if this service holds it */
  text: string | null;
  /** keccak256(text) == textHash; null without text */
  textMatches: boolean | null;
  budgetAmount: number;
  budgetCurrency: string;
  rollVersion: number;
  rollSize: number;
  /** co-signatures that make it a council proposal */
  needed: number;
  coSignatures: number;
  opensAt: number;
  /** co-signatures are taken until then (unix seconds) */
  closesAt: number;
  state: "open" | "promoted" | "expired";
  /** the council proposal it became, once promoted */
  proposalId: number | null;
  /** whether `signer` (asked for) has a co-signature counted */
  cosigned?: boolean | null;
}

/** A stored join request and where its resident stands: `pending` (not on the roll), `staged` (added, the roll not yet published) or `onRoll` (on the published roll). */
export interface JoinOut {
  /** the short code, XXXX-XXXX: the digest's first 40 bits */
  code: string;
  /** the EIP-712 digest the resident signed */
  digest: string;
  communityId: number;
  resident: string;
  issuedAt: number;
  signature: string;
  receivedAt: number;
  status: "pending" | "staged" | "onRoll";
}

/** A resident's EIP-712 join request: JoinRequest(uint256 communityId,address resident,uint64 issuedAt) under the domain ("CommonsJoin", "1", chainId, Registry address), signed by `resident`. The QR code the page shows carries exactly this object. */
export interface JoinRequestIn {
  communityId: number;
  resident: string;
  /** unix seconds */
  issuedAt: number;
  signature: string;
}

export interface LatestReportOut {
  /** the Ed25519 signature matches the report as stored on the server; says nothing of who signed it (see `signer`) */
  signatureValid: boolean;
  /** whether the signature matches and which registered auditor signed it, or that an unregistered key did */
  signatureDetail: string;
  /** the signature matches and its key is a registered auditor's (`signer`) */
  signedByRegisteredAuditor: boolean;
  signer: SignerOut;
  keyId: string | null;
  generatedAt: number;
  /** the report found nothing wrong */
  ok: boolean;
  report: Record<string, unknown>;
  signature: Record<string, unknown> | null;
  /** exactly the text the signature covers (the report's canonical JSON: sorted keys, no whitespace, ASCII), for a client to check the signature without re-encoding the report (numbers such as 2.0 do not survive a JSON round trip in every language); null when the report is unsigned */
  signedText: string | null;
  /** fields this server took out of the report before serving it (the node's URL beyond scheme, host and port; server file paths): empty for reports written by this version, whose signature covers exactly what is served */
  redacted: string[];
}

export interface LoginIn {
  nonce: string;
  signature: string;
}

export interface LoginOut {
  address: string;
  token: string;
  expiresAt: number;
}

/** A resident's signed appointment (`act` "appoint": EIP-712 Mandate(uint256 communityId, address resident,address proxy,uint8 scope,uint256 voteId,uint256 nonce)) or revocation ("revoke": MandateRevocation(uint256 communityId,address resident,uint256 nonce)) under ("CommonsMandates", "1", chainId, mandates address). `scope`: 0 every vote (voteId 0), 1 one council proposal, 2 one election; `nonce`: the resident's next (GET /v1/communities/{id}/mandates/{address}). */
export interface MandateIn {
  act: "appoint" | "revoke";
  communityId: number;
  resident: string;
  proxy?: string | null;
  scope?: number | null;
  voteId?: number | null;
  nonce: number;
  signature: string;
}

/** Who holds a resident's mandate in a community, read from the chain. */
export interface MandateOut {
  communityId: number;
  resident: string;
  /** the proxy; null when the resident has appointed none */
  proxy: string | null;
  /** the key a registrar replaced the proxy's with (a lost phone): the mandate names a retired key, which can cast nothing, so the resident appoints this one; null when the proxy's key is current (or there is no proxy) */
  proxyReplacedBy: string | null;
  scope: "AllVotes" | "Proposal" | "Election" | null;
  voteId: number | null;
  /** the nonce the resident's next appointment or revocation uses */
  nonce: number;
  /** the community's proxy limit */
  limit: number;
}

/** A member's balance (from the contract) and time-bank history across key rotations. */
export interface MemberHistoryOut {
  account: string;
  minutes: number;
  keys: string[];
  carriedOver: CarriedOverOut[];
  records: EventOut[];
}

/** A member as other members see them: always show `tag` beside the name, since two members may choose the same one. */
export interface MemberOut {
  address: string;
  name: string;
  /** the address's last four hex digits, lower case */
  tag: string;
  updatedAt: number;
}

/** A display name: 1-40 characters once in NFC and trimmed, nothing that hides or reorders text (422 `InvalidName` otherwise). */
export interface NameIn {
  name: string;
}

export interface NonceOut {
  address: string;
  /** the nonce the next ForwardRequest of this address must carry */
  nonce: number;
}

/** A paper box: its declaration, the officers' signed totals so far, and its count. */
export interface PaperBoxOut {
  boxId: number;
  electionId: number;
  labelHash: string;
  label: string | null;
  voters: string[];
  signatures: BoxSignatureOut[];
  ballots: number | null;
  totalsHash: string | null;
}

export interface PayoutOut {
  requestId: number;
  proposalId: number;
  recipient: string;
  amount: number;
  requester: string;
  status: string;
  approvers: string[];
}

/** The provider's half: a record signed by its provider, waiting for the other side. */
export interface PendingServiceIn {
  communityId: number;
  record: ServiceRecordIn;
  providerSig: string;
}

export interface PendingServiceOut {
  /** the record id (its EIP-712 struct hash) */
  id: string;
  communityId: number;
  /** the record as its provider signed it */
  record: ServiceRecordIn;
  providerSig: string;
  createdAt: number;
}

export interface PersonIn {
  address: string;
  person: string;
}

export interface PersonOut {
  address: string;
  person: string;
  recordedBy: string;
  recordedAt: number;
}

export interface ProposalOut {
  id: number;
  communityId: number;
  proposer: string;
  textHash: string;
  /** the full text if this service holds it */
  text: string | null;
  /** keccak256(text) == textHash; null without text */
  textMatches: boolean | null;
  kind: "YesNoAbstain" | "MultipleChoice" | "SecretYesNoAbstain" | "SecretMultipleChoice";
  /** a Secret kind's linked secret vote, whose tally decides it (null: none yet) */
  secretVoteId: number | null;
  optionCount: number;
  opensAt: number;
  closesAt: number;
  quorumBps: number;
  thresholdBps: number;
  budgetAmount: number;
  budgetCurrency: string;
  rollVersion: number;
  rollSize: number;
  state: "Pending" | "Open" | "Closed" | "Finalized";
  outcome: "None" | "Passed" | "Rejected" | "NoQuorum" | "TallyNeverPublished";
  winningOption: number;
  tally: number[];
  turnout: number;
  execution: "NotStarted" | "InProgress" | "Completed";
  milestoneCount: number;
}

/** A proxy's EIP-712 ballot for a resident: ProxyBallot(uint256 proposalId,address voter, address proxy,uint8 option) under the council's ballot domain, signed by `proxy`. */
export interface ProxyBallotIn {
  proposalId: number;
  voter: string;
  proxy: string;
  option: number;
  signature: string;
}

/** How many of a proposal's counted ballots were cast by proxy (overridden ones not). */
export interface ProxyCountOut {
  proposalId: number;
  byProxy: number;
  tally: number[];
}

/** A resident's EIP-712 rating: Rating(uint256 proposalId,address rater,uint8 score,bytes32 commentHash) under the domain ("CommonsRatings", "1", chainId, ratings address). */
export interface RatingIn {
  proposalId: number;
  rater: string;
  score: number;
  commentHash: string;
  signature: string;
}

export interface RatingsOut {
  /** a council proposal's id, or a budget project's grant id */
  proposalId: number;
  /** `proposalId` as a decimal string (a budget project's is past 2^53) */
  id: string;
  /** whether the first ratings were relayed (the window runs) */
  opened: boolean;
  /** ratings are taken until then (unix seconds) */
  closesAt: number | null;
  rollVersion: number | null;
  count: number;
  /** the mean score, 1 to 5, as the chain has it (to two decimals, rounded down) */
  average: number | null;
  /** how many rated 1, 2, 3, 4 and 5 */
  histogram: number[];
  /** whether `rater` (asked for) has a rating counted */
  rated?: boolean | null;
}

/** What the relay knows of one acknowledged message. */
export interface ReceiptOut {
  /** receipt id: keccak256 of the kind and the canonical message */
  id: string;
  kind: "ballot" | "service" | "forward" | "election-ballot" | "cosignature" | "rating" | "mandate" | "proxy-ballot" | "budget-ballot" | "in-person-ballot" | "secret-ballot" | "box-totals" | "election-proxy-ballot";
  status: "queued" | "sent" | "included" | "counted" | "rejected";
  signer: string;
  txHash: string | null;
  block: number | null;
  /** ballot digest when counted; the reason when rejected */
  detail: string | null;
  /** unix time the message was stored and acknowledged */
  acceptedAt: number;
  /** unix time of the latest status change */
  updatedAt: number;
  /** the relayer's signed acknowledgement (absent for messages acknowledged before acknowledgements were signed) */
  ack?: AckOut | null;
}

/** A resident's encrypted ballot, signed: EIP-712 SecretBallot(uint256 voteId,address voter, bytes32 ballotHash) under ("CommonsSecretBallot", "1", chainId, secret ballot address), ballotHash = keccak256 of the packed `words` (the ciphertexts, then the proof: 7·options + 2 words, docs/secret-ballots.md). The relay verifies the proofs before acknowledging. */
export interface SecretBallotIn {
  voteId: number;
  voter: string;
  words: string[];
  signature: string;
}

/** Whether and where a resident's secret ballot was counted: enough to check it against the batch hash the contract recorded, or to challenge it. */
export interface SecretBallotInclusionOut {
  voteId: number;
  voter: string;
  voted: boolean;
  ballotHash: string | null;
  block: number | null;
  txHash: string | null;
  /** the SecretBatchRecorded batch it was counted in */
  batch: number | null;
  /** its place among that batch's counted ballots */
  position: number | null;
  voided: boolean;
}

/** The count found from the trustees' published parts, for anyone to record with finalizeSecretVote: the contract checks it against the aggregate and those parts, so a wrong count from this API would be refused there, not recorded. */
export interface SecretTallyOut {
  voteId: number;
  /** votes per option */
  tally: number[];
  /** the t trustees whose parts were combined */
  trustees: number[];
  /** the vote is finalized with this tally */
  recorded: boolean;
}

/** One trustee's steps as the chain's events record them: what anyone can read to see whose part of the key generation or of the tally is still to come. */
export interface SecretTrusteeOut {
  /** the trustee's number (1-based) */
  trustee: number;
  address: string;
  /** CommunicationKeyRegistered */
  keyRegistered: boolean;
  /** SharesDealt */
  dealt: boolean;
  /** DealComplained against this dealer */
  complaintsAgainst: number;
  /** ComplaintAnswered by this dealer */
  complaintsAnswered: number;
  /** TrusteeDisqualified */
  disqualified: "NoKey" | "NoDeal" | "BadAnswer" | "NoAnswer" | null;
  /** PartialDecryptionPublished */
  publishedPartial: boolean;
}

/** A secret vote as the chain has it now. What would tell a partial result is absent (None) until ballots close: the counted ballots and their aggregate; the tally until it is finalized. `castCount` is the turnout the SecretBallotCast events show anyway. */
export interface SecretVoteOut {
  voteId: number;
  communityId: number;
  opener: string;
  questionHash: string;
  question: string | null;
  options: string[] | null;
  optionCount: number;
  trustees: string[];
  threshold: number;
  keysBy: number;
  dealsBy: number;
  complaintsBy: number;
  answersBy: number;
  opensAt: number;
  closesAt: number;
  challengesUntil: number;
  rollVersion: number;
  rollSize: number;
  state: "Keys" | "Dealing" | "Complaints" | "Answers" | "KeyPending" | "KeyFailed" | "Pending" | "Open" | "Challenges" | "Decryption" | "Finalized";
  chainId: number;
  contract: string;
  /** Y as (x, y), once key generation closed */
  electionKey: string[] | null;
  /** the trustees (1-based) who hold a share of the key */
  qualified: number[];
  /** ballots counted when cast (SecretBallotCast events) */
  castCount: number;
  /** ballots voided by a challenge */
  voidedCount: number;
  /** counted, non-voided ballots: after the close */
  ballotCount: number | null;
  /** for each option SA.x, SA.y, SB.x, SB.y: after the close */
  aggregate: string[] | null;
  /** trustees who published a partial decryption */
  partialsFrom: number[];
  /** each trustee's steps, in order */
  trusteeSteps: SecretTrusteeOut[];
  /** votes per option, once finalized */
  tally: number[] | null;
  /** the council proposal whose outcome this vote decides (linkSecretVote) */
  proposalId: number | null;
}

export interface ServiceRecordIn {
  provider: string;
  recipient: string;
  minutesServed: number;
  category: string;
  noteHash: string;
  nonce: number;
}

/** A service record with both sides' EIP-712 signatures (the recipient's, or for service to the community a coordinator's). */
export interface SignedServiceIn {
  communityId: number;
  record: ServiceRecordIn;
  providerSig: string;
  recipientSig: string;
}

/** Who signed the report, by the report keys auditors registered in the Registry. */
export interface SignerOut {
  /** the key is registered by an AUDITOR and was not revoked at or before the report's last audited block */
  registered: boolean;
  /** sha256 of the raw Ed25519 public key */
  keyFingerprint: string | null;
  /** the auditor who registered the key */
  auditor: string | null;
  /** the community whose AUDITOR it is */
  community: number | null;
  registeredAtBlock: number | null;
  revokedAtBlock: number | null;
  /** one line: the registered auditor, or why not */
  detail: string;
}

export interface TextIn {
  text: string;
}

export interface TextOut {
  /** keccak256 of the UTF-8 text; what a proposal's textHash commits to */
  hash: string;
  text: string;
}

/** One step of a cent's trail: income -> fund -> grant -> payout -> recipient. */
export interface TrailEntryOut {
  block: number;
  txHash: string;
  step: string;
  proposalId: number | null;
  requestId: number | null;
  amount: number;
  /** recipient, approver or recorder, as the step has it */
  party: string | null;
  /** document / invoice hash where the step has one */
  reference: string | null;
}
