/**
 * The baseline the benchmark compares against: the same rules (hard filter, relaxation, work
 * order, longest-idle agent order, exclusions, capacity with pending offers) with no index.
 * Every decision scans all agents for a free one, all waiting conversations for the best it can
 * take, then all agents again for the policy's best for that conversation. It only caches what
 * the config alone determines (the requirement of each queue at each relaxation step).
 */
import { checkRequirementSet, relaxStepAt, requirementAt, toQualifications, type Qualifications, type RequirementSet } from '../../src/routing/requirement-model.js';
import type { AgentInput, ConversationInput, QueuePolicy } from '../../src/routing/routing-types.js';
import { hashUnit } from '../../src/routing/seeded-random.js';
import { workKey } from '../../src/routing/work-order.js';

interface NaiveAgent {
  id: number;
  quals: Qualifications;
  capacity: number;
  available: boolean;
  load: number;
  pending: number;
  idleSince: number;
  tie: number;
}

interface NaiveConv {
  id: number;
  queue: QueuePolicy;
  arrivedAt: number;
  key: number;
  offeredTo: number | null;
  excluded: Set<number> | null;
}

export interface NaiveOffer {
  conversationId: number;
  agentId: number;
}

export class NaiveRouter {
  private readonly queues: Map<string, QueuePolicy>;
  private readonly agents: NaiveAgent[] = [];
  private readonly byId = new Map<number, NaiveAgent>();
  private readonly convs = new Map<number, NaiveConv>();
  private readonly steps = new Map<string, RequirementSet[]>();
  private version = 0;

  constructor(
    queues: readonly QueuePolicy[],
    private readonly seed: number,
  ) {
    this.queues = new Map(queues.map((q) => [q.name, q]));
    for (const q of queues) {
      this.steps.set(
        q.name,
        Array.from({ length: q.routing.relax.length + 1 }, (_, step) => requirementAt(q, q.skills, q.language, step, (n) => this.queues.get(n))),
      );
    }
  }

  upsertAgent(a: AgentInput, now: number): void {
    const rec: NaiveAgent = { id: a.id, quals: toQualifications(a.skills, a.languages), capacity: a.capacity, available: a.state === 'available', load: a.load, pending: 0, idleSince: a.idleSince ?? now, tie: hashUnit(this.seed, a.id, 0) };
    const old = this.byId.get(a.id);
    if (old) Object.assign(old, rec, { pending: old.pending });
    else {
      this.agents.push(rec);
      this.byId.set(a.id, rec);
    }
  }

  setAgentState(id: number, available: boolean, now: number): void {
    const a = this.byId.get(id)!;
    if (available && !a.available) a.idleSince = now;
    a.available = available;
  }

  setAgentLoad(id: number, load: number, now: number): void {
    const a = this.byId.get(id)!;
    if (load < a.load) a.idleSince = now;
    a.load = load;
  }

  enqueue(c: ConversationInput, _now: number): void {
    const queue = this.queues.get(c.queue)!;
    const due = c.slaDueAt ?? c.arrivedAt + queue.slaMinutes * 60_000;
    this.convs.set(c.id, { id: c.id, queue, arrivedAt: c.arrivedAt, key: workKey({ priorityWeight: 10, slaWeight: 1 }, c.priority ?? queue.priority, c.arrivedAt, due), offeredTo: null, excluded: c.excluded?.length ? new Set(c.excluded) : null });
  }

  accept(conversationId: number, agentId: number, now: number): boolean {
    const c = this.convs.get(conversationId);
    if (!c || c.offeredTo !== agentId) return false;
    const a = this.byId.get(agentId)!;
    a.pending--;
    a.load++;
    a.idleSince = now;
    this.convs.delete(conversationId);
    return true;
  }

  /** Matches until no free agent can take any waiting conversation. */
  decide(now: number): NaiveOffer[] {
    const offers: NaiveOffer[] = [];
    for (let matched = true; matched; ) {
      matched = false;
      for (const a of this.agents) {
        if (!this.free(a)) continue;
        const conv = this.bestConversation(a, now);
        if (!conv) continue;
        const agent = this.bestAgent(conv, a, now);
        conv.offeredTo = agent.id;
        agent.pending++;
        agent.tie = hashUnit(this.seed, agent.id, ++this.version);
        offers.push({ conversationId: conv.id, agentId: agent.id });
        matched = true;
      }
    }
    return offers;
  }

  private free(a: NaiveAgent): boolean {
    return a.available && a.load + a.pending < a.capacity;
  }

  private eligible(a: NaiveAgent, c: NaiveConv, now: number): boolean {
    if (c.excluded?.has(a.id)) return false;
    const alts = this.steps.get(c.queue.name)![relaxStepAt(c.queue, c.arrivedAt, now)]!;
    return checkRequirementSet(a.quals, alts) === null;
  }

  private bestConversation(a: NaiveAgent, now: number): NaiveConv | null {
    let best: NaiveConv | null = null;
    for (const c of this.convs.values()) {
      if (c.offeredTo !== null || !this.eligible(a, c, now)) continue;
      if (!best || c.key > best.key || (c.key === best.key && (c.arrivedAt < best.arrivedAt || (c.arrivedAt === best.arrivedAt && c.id < best.id)))) best = c;
    }
    return best;
  }

  private bestAgent(c: NaiveConv, first: NaiveAgent, now: number): NaiveAgent {
    let best = first;
    for (const b of this.agents) {
      if (b === best || !this.free(b) || !this.eligible(b, c, now)) continue;
      if (b.idleSince < best.idleSince || (b.idleSince === best.idleSince && (b.tie < best.tie || (b.tie === best.tie && b.id < best.id)))) best = b;
    }
    return best;
  }
}
