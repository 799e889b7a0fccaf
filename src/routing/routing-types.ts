/**
 * The routing engine's public vocabulary: what the service layer feeds in (queues, agents,
 * conversations, offer responses) and the plain data it gets back (offers, assignments,
 * expiries, pauses, cancellations, each decision with its audit). Times are epoch milliseconds
 * given by the caller; the engine never reads a clock.
 */
import type { RoutingSpec } from '../config/schema.js';
import type { AgentState, LevelMap } from '../domain/types.js';

export type AgentId = number;
export type ConversationId = number;
export type RoutingPolicy = RoutingSpec['policy'];

/** One queue as the router needs it: the normalized `queues[]` entry of the config file. */
export interface QueuePolicy {
  name: string;
  /** Required skills with their minimum level (1–10). */
  skills: LevelMap;
  /**
   * A fixed language requirement, or null when the queue has none or uses `language: auto`
   * (then each conversation brings its detected language, or none).
   */
  language: string | null;
  /** 1–10; higher is served first. */
  priority: number;
  /** First-response target; the SLA due time of a conversation that has none of its own. */
  slaMinutes: number;
  routing: RoutingSpec;
}

/** An agent as the store knows it. `upsertAgent` takes the whole record each time. */
export interface AgentInput {
  id: AgentId;
  login: string;
  skills: LevelMap;
  /** Language code → proficiency 1–10. A region (`pt-BR`) also speaks its base language. */
  languages: LevelMap;
  /** Concurrent conversations the agent can hold; pending offers count against it. */
  capacity: number;
  state: AgentState;
  /** The pause reason code when `state` is `paused`. */
  pauseReason?: string | null;
  /** Conversations assigned now (not counting pending offers). */
  load: number;
  /** Since when the agent has had no new work; longest-idle orders by it. Default: `now`. */
  idleSince?: number;
  /** Missed offers in a row so far (restored from the store at start). Default 0. */
  missedOffers?: number;
}

/** A conversation that waits for an agent. `enqueue` takes it again for a transfer or a reopen. */
export interface ConversationInput {
  id: ConversationId;
  queue: string;
  /** Required skills with minimum levels; default: the queue's. */
  skills?: LevelMap;
  /** Language requirement; `undefined` = the queue's, `null` = none. */
  language?: string | null;
  /** 1–10, higher first; default: the queue's. */
  priority?: number;
  /** When it started waiting: its place in the work order, kept through relaxation. */
  arrivedAt: number;
  /** First-response due time; default `arrivedAt + queue.slaMinutes`. */
  slaDueAt?: number | null;
  /** The last agent who answered this customer, for stickiness. */
  lastAgentId?: AgentId | null;
  lastAgentAt?: number | null;
  /** The queue the last agent answered in, for `sticky.scope: queue`; unknown when absent. */
  lastAgentQueue?: string | null;
  /** Agents that declined or let an offer of this conversation expire. */
  excluded?: readonly AgentId[];
}

/** A pending offer read back from the store when the engine is rebuilt at start. */
export interface RestoredOffer {
  conversationId: ConversationId;
  agentId: AgentId;
  expiresAt: number;
}

export interface RoutingEngineOptions {
  queues: readonly QueuePolicy[];
  /** Seeds the tie-break between otherwise equal agents; same seed + same inputs = same decisions. */
  seed: number;
  /** Work-order minutes one priority point is worth (default 10). */
  priorityWeight?: number;
  /** Weight of SLA urgency, minutes relative to the due time (default 1). */
  slaWeight?: number;
  /** Eligible candidates listed by name in each decision audit (default 10); the rest are counted. */
  auditCandidates?: number;
  /** Empty requirement buckets kept warm for reuse before the oldest are dropped (default 256). */
  maxIdleBuckets?: number;
}

/** One agent in a decision audit. `score` is the policy value (see `DecisionAudit.scoreMeaning`). */
export interface AuditCandidate {
  agentId: AgentId;
  login: string;
  /** False only for listed agents that were free and qualified but excluded. */
  eligible: boolean;
  /** Why not, when not eligible (`excluded`); null otherwise. */
  reason: string | null;
  score: number | null;
}

/**
 * Why a conversation went to these agents (`GET /conversations/:id/routing`). `candidates`
 * lists the chosen agents first, then the next free eligible ones in policy order (at most
 * `auditCandidates` in all), then excluded agents met on the way. `filtered` counts every other
 * agent by the first check it failed, in the order skill, language, state, capacity, exclusion:
 * `skill billing missing`, `skill billing below 3`, `language fr`, `paused`, `offline`, `full`,
 * `excluded`, and `eligible, not listed` for free qualified agents beyond the bound. Together
 * with the listed candidates they add up to `agentsKnown`.
 */
export interface DecisionAudit {
  at: number;
  conversationId: ConversationId;
  queue: string;
  outcome: 'offered' | 'assigned';
  /** 0 = the queue's own requirements; n = relaxation step n (1-based) in force. */
  step: number;
  /** `base`, `relax 2 (after 300 s)`, or `sticky` when it went back to the last agent. */
  stepLabel: string;
  sticky: boolean;
  /** The requirement in force, readable: `billing≥1, language en | queue general (tech≥3)`. */
  requirement: string;
  agentIds: AgentId[];
  /** The conversation's work-order score at `at` (priority, minutes waited, SLA urgency). */
  workScore: number;
  policy: RoutingPolicy;
  scoreMeaning: string;
  candidates: AuditCandidate[];
  filtered: Record<string, number>;
  /** Agents the engine knew at the time (eligible or not). */
  agentsKnown: number;
}

/** Offer `conversationId` to `agentIds` (more than one for broadcast), each until `expiresAt`. */
export interface OfferDecision {
  conversationId: ConversationId;
  queue: string;
  agentIds: AgentId[];
  expiresAt: number;
  audit: DecisionAudit;
}

/** `mode: assign`: the conversation is the agent's now; the engine already counted the load. */
export interface AssignDecision {
  conversationId: ConversationId;
  queue: string;
  agentId: AgentId;
  audit: DecisionAudit;
}

/** An offer ran out: the agent is excluded for that conversation, which is routed again. */
export interface ExpiredOffer {
  conversationId: ConversationId;
  agentId: AgentId;
  expiresAt: number;
  /** The agent's missed offers in a row, this one included. */
  missedOffers: number;
}

/** The engine paused an agent itself (`max_missed_offers` missed in a row); store it, tell supervisors. */
export interface AgentPause {
  agentId: AgentId;
  login: string;
  reason: 'not-responding';
  missedOffers: number;
  at: number;
}

export type CancelReason =
  | 'accepted-by-other'
  | 'conversation-removed'
  | 'conversation-requeued'
  | 'agent-unavailable'
  | 'agent-removed'
  | 'queue-removed';

/** A pending offer the engine withdrew: mark it cancelled and tell the agent's screen. */
export interface CancelledOffer {
  conversationId: ConversationId;
  agentId: AgentId;
  reason: CancelReason;
}

/** Everything `decide(now)` wants done now, in the order it happened. */
export interface DecideResult {
  offers: OfferDecision[];
  assignments: AssignDecision[];
  expired: ExpiredOffer[];
  pauses: AgentPause[];
  cancelled: CancelledOffer[];
}

/** The answer to an accept. Exactly one accept per conversation ever gets `won: true`. */
export interface AcceptResult {
  won: boolean;
  /** Why not, when not won. */
  reason?: 'no-pending-offer' | 'expired';
  /** The other pending offers of the conversation, now withdrawn (broadcast). */
  cancelled: CancelledOffer[];
}

/** What a decline did: false when there was no pending offer to decline. */
export interface DeclineResult {
  declined: boolean;
}

/** Read-only views for the service (supervisor screens) and for tests. */
export interface AgentView {
  id: AgentId;
  login: string;
  state: AgentState;
  pauseReason: string | null;
  load: number;
  pendingOffers: number;
  capacity: number;
  idleSince: number;
  missedOffers: number;
  /** Available with room for one more (load + pending offers < capacity). */
  free: boolean;
}

export type ConversationRoutingState = 'waiting' | 'sticky-wait' | 'offered';

export interface ConversationView {
  id: ConversationId;
  queue: string;
  state: ConversationRoutingState;
  step: number;
  requirement: string;
  arrivedAt: number;
  pendingAgentIds: AgentId[];
  excluded: AgentId[];
  /** The agent it waits for in `sticky-wait`, until `stickyUntil`. */
  stickyAgentId: AgentId | null;
  stickyUntil: number | null;
}
