/**
 * The engine's internal records. They are mutable and linked to each other (an agent knows its
 * bucket memberships and pending offers, a conversation its bucket and timers) so every event
 * touches only what it changes. Nothing here leaves the engine: views are copied out.
 */
import type { AgentState, LevelMap } from '../domain/types.js';
import type { HeapSlot } from './indexed-heap.js';
import { toQualifications, type Qualifications, type RequirementSet } from './requirement-model.js';
import type { AgentId, AgentInput, ConversationId, ConversationInput, ConversationRoutingState, QueuePolicy } from './routing-types.js';
import { hashUnit } from './seeded-random.js';
import type { Timer } from './timer-heap.js';
import type { Bucket } from './routing-bucket.js';

/** Where an agent stands for every bucket it qualifies for; drives the per-bucket counts. */
export type AgentStatus = 'free' | 'full' | 'paused' | 'offline';

export interface AgentNode {
  id: AgentId;
  login: string;
  skillsInput: LevelMap;
  languagesInput: LevelMap;
  quals: Qualifications;
  capacity: number;
  state: AgentState;
  pauseReason: string | null;
  load: number;
  pending: number;
  idleSince: number;
  missed: number;
  /** Seeded tie-break in [0, 1), redrawn after each offer so equal agents take turns. */
  tie: number;
  /** Bumped on every offer or assignment; feeds `tie`. */
  version: number;
  /** Global sequence number of the agent's last offer or assignment (round-robin). */
  lastOfferSeq: number;
  status: AgentStatus;
  /** `idleSince` and `tie` as last written into the free heaps (skip re-keying when unchanged). */
  keyedIdle: number;
  keyedTie: number;
  memberships: Map<Bucket, Membership>;
  offers: Set<OfferNode>;
  /** Conversations waiting for this agent in particular (sticky wait). */
  sticky: Set<ConversationNode>;
  dirty: boolean;
}

/** An agent's place in one bucket's heap of free agents. */
export interface Membership extends HeapSlot {
  agent: AgentNode;
  bucket: Bucket;
  /** Skill sum on the bucket's own requirement, fixed while the agent's skills are. */
  skill: number;
  /** The policy key, lower first; recomputed when the agent changes. */
  primary: number;
}

export type TimerPayload =
  | { kind: 'relax'; conv: ConversationNode }
  | { kind: 'sticky'; conv: ConversationNode }
  | { kind: 'offer'; offer: OfferNode };

export interface ConversationNode extends HeapSlot {
  id: ConversationId;
  queue: QueuePolicy;
  /** What the caller gave (undefined = the queue's), kept so a queue change can re-default. */
  input: { skills: LevelMap | undefined; language: string | null | undefined; priority: number | undefined; slaDueAt: number | null | undefined };
  ownSkills: LevelMap;
  ownLanguage: string | null;
  priority: number;
  arrivedAt: number;
  dueAt: number;
  /** Time-invariant work-order key, higher first (see work-order.ts). */
  workKey: number;
  lastAgentId: AgentId | null;
  lastAgentAt: number | null;
  lastAgentQueue: string | null;
  excluded: Set<AgentId> | null;
  step: number;
  alts: RequirementSet;
  /** The bucket its requirement maps to; it is in the bucket's heap only while `waiting`. */
  bucket: Bucket | null;
  state: ConversationRoutingState;
  stickyAgent: AgentNode | null;
  stickyUntil: number | null;
  offers: OfferNode[];
  relaxTimer: Timer<TimerPayload> | null;
  stickyTimer: Timer<TimerPayload> | null;
  dirty: boolean;
  removed: boolean;
}

export interface OfferNode {
  conv: ConversationNode;
  agent: AgentNode;
  expiresAt: number;
  timer: Timer<TimerPayload> | null;
}

/** Available with room for one more: load and pending offers below capacity. */
export function isFree(a: AgentNode): boolean {
  return a.state === 'available' && a.load + a.pending < a.capacity;
}

export function statusOf(a: AgentNode): AgentStatus {
  if (a.state === 'offline') return 'offline';
  if (a.state === 'paused') return 'paused';
  return a.load + a.pending < a.capacity ? 'free' : 'full';
}

/** Work order between conversations: higher key, then earlier arrival, then lower id. */
export function conversationBefore(a: ConversationNode, b: ConversationNode): boolean {
  if (a.workKey !== b.workKey) return a.workKey > b.workKey;
  if (a.arrivedAt !== b.arrivedAt) return a.arrivedAt < b.arrivedAt;
  return a.id < b.id;
}

/** A new agent record from its input (not yet in any bucket). */
export function createAgentNode(input: AgentInput, now: number, seed: number): AgentNode {
  return {
    id: input.id,
    login: input.login,
    skillsInput: { ...input.skills },
    languagesInput: { ...input.languages },
    quals: toQualifications(input.skills, input.languages),
    capacity: input.capacity,
    state: input.state,
    pauseReason: input.state === 'paused' ? (input.pauseReason ?? null) : null,
    load: Math.max(0, input.load),
    pending: 0,
    idleSince: input.idleSince ?? now,
    missed: input.missedOffers ?? 0,
    tie: hashUnit(seed, input.id, 0),
    version: 0,
    lastOfferSeq: -1,
    status: 'offline',
    keyedIdle: NaN,
    keyedTie: NaN,
    memberships: new Map(),
    offers: new Set(),
    sticky: new Set(),
    dirty: false,
  };
}

/** A new conversation record; the engine then resolves its defaults, requirement and place. */
export function createConversationNode(input: ConversationInput, queue: QueuePolicy): ConversationNode {
  return {
    id: input.id,
    queue,
    input: { skills: input.skills, language: input.language, priority: input.priority, slaDueAt: input.slaDueAt },
    ownSkills: {},
    ownLanguage: null,
    priority: 0,
    arrivedAt: input.arrivedAt,
    dueAt: 0,
    workKey: 0,
    lastAgentId: input.lastAgentId ?? null,
    lastAgentAt: input.lastAgentAt ?? null,
    lastAgentQueue: input.lastAgentQueue ?? null,
    excluded: input.excluded?.length ? new Set(input.excluded) : null,
    step: 0,
    alts: [],
    bucket: null,
    state: 'waiting',
    stickyAgent: null,
    stickyUntil: null,
    offers: [],
    relaxTimer: null,
    stickyTimer: null,
    dirty: false,
    removed: false,
    heapIndex: -1,
  };
}
