// Partition ownership assignment: a pure function from the current owner of every partition (data partitions
// and coordinator partitions alike) and the live members to the changes that make the assignment valid and
// balanced while moving as few partitions as possible.
//
// - A partition whose owner is gone (its member key was deleted or belongs to a newer incarnation) gets a new
//   owner at once, with the epoch bumped: the old owner can no longer write (its fence fails).
// - A partition whose owner is live but should move (the owner is draining, or the cluster is unbalanced) gets
//   a `target`: the owner finishes what it has in flight, then hands the partition to the target itself.
// - Balanced: every eligible broker ends with floor(n/b) or ceil(n/b) partitions. Ties are broken by the
//   number of partitions of the same table on the broker's rack (rack awareness), then on the broker, then by
//   node id, so the result is deterministic.
import assert from 'node:assert/strict';

/** One partition's ownership: stored at /owners/<table>/<partition>. */
export interface OwnerSlot {
  /** Node id of the owner, or -1 when none. */
  owner: number;
  /** createRevision of the owner's member key: which incarnation of the node owns it. */
  ownerRev: number;
  /** Bumped at every change of owner. */
  epoch: number;
  /** Node id the owner is to hand the partition to, or -1. */
  target: number;
}

export interface Member {
  nodeId: number;
  /** createRevision of its member key. */
  rev: number;
  rack: string | null;
  /** Shutting down: keeps what it owns until it hands it over, gets nothing new. */
  draining: boolean;
}

export interface TableSlots {
  /** Topic id, or a coordinator table name. */
  table: string;
  /** Current slots; index = partition. A missing (undefined) slot is a partition never assigned. */
  slots: (OwnerSlot | undefined)[];
  /** Partition count the table should have (slots beyond it are ignored). */
  partitions: number;
}

export interface SlotChange {
  table: string;
  partition: number;
  /** The slot as read (undefined when new): the write is guarded by it being unchanged. */
  previous: OwnerSlot | undefined;
  next: OwnerSlot;
}

export const unowned: OwnerSlot = { owner: -1, ownerRev: 0, epoch: -1, target: -1 };

function isLive(slot: OwnerSlot | undefined, members: Map<number, Member>): boolean {
  if (!slot || slot.owner < 0) return false;
  const m = members.get(slot.owner);
  return m !== undefined && m.rev === slot.ownerRev;
}

export function computeAssignment(tables: readonly TableSlots[], memberList: readonly Member[]): SlotChange[] {
  const members = new Map(memberList.map((m) => [m.nodeId, m]));
  const eligible = memberList.filter((m) => !m.draining).sort((a, b) => a.nodeId - b.nodeId);
  if (eligible.length === 0) return [];
  const loads = new Loads(members, eligible);
  const { work, needsOwner } = keepLiveOwners(tables, members, loads);
  assignOwners(needsOwner, members, loads);
  balance(work, loads);
  const changes: SlotChange[] = [];
  for (const w of work) {
    const p = w.previous;
    if (p && p.owner === w.next.owner && p.ownerRev === w.next.ownerRev && p.epoch === w.next.epoch && p.target === w.next.target) continue;
    changes.push({ table: w.table, partition: w.partition, previous: p, next: w.next });
  }
  return changes;
}

/** One partition being placed; final is the owner it will end with (after a pending handover). */
interface Work {
  table: string;
  partition: number;
  previous: OwnerSlot | undefined;
  next: OwnerSlot;
  final: number;
  direct: boolean;
}

/** Partitions per eligible broker, and per table on each node and each rack (for tie-breaking). */
class Loads {
  readonly eligible: readonly Member[];
  readonly eligibleIds: Set<number>;
  readonly load: Map<number, number>;
  readonly perTableNode = new Map<string, number>();
  private readonly perTableRack = new Map<string, number>();
  private readonly members: Map<number, Member>;

  constructor(members: Map<number, Member>, eligible: readonly Member[]) {
    this.members = members;
    this.eligible = eligible;
    this.eligibleIds = new Set(eligible.map((m) => m.nodeId));
    this.load = new Map<number, number>(eligible.map((m) => [m.nodeId, 0]));
  }

  private rackOf(nodeId: number): string {
    return this.members.get(nodeId)?.rack ?? `node:${nodeId}`;
  }

  count(table: string, nodeId: number, delta: number): void {
    this.load.set(nodeId, (this.load.get(nodeId) ?? 0) + delta);
    const kn = `${table}\u0000${nodeId}`;
    this.perTableNode.set(kn, (this.perTableNode.get(kn) ?? 0) + delta);
    const kr = `${table}\u0000${this.rackOf(nodeId)}`;
    this.perTableRack.set(kr, (this.perTableRack.get(kr) ?? 0) + delta);
  }

  /** The eligible broker (other than exclude) with the least load, then fewest of table on its rack, on it, then lowest id. */
  pick(table: string, exclude: number): Member {
    let best: Member | null = null;
    let bestKey: [number, number, number, number] | null = null;
    for (const m of this.eligible) {
      if (m.nodeId === exclude) continue;
      const key: [number, number, number, number] = [
        this.load.get(m.nodeId)!,
        this.perTableRack.get(`${table}\u0000${this.rackOf(m.nodeId)}`) ?? 0,
        this.perTableNode.get(`${table}\u0000${m.nodeId}`) ?? 0,
        m.nodeId,
      ];
      if (
        bestKey === null ||
        key[0] < bestKey[0] ||
        (key[0] === bestKey[0] &&
          (key[1] < bestKey[1] || (key[1] === bestKey[1] && (key[2] < bestKey[2] || (key[2] === bestKey[2] && key[3] < bestKey[3])))))
      ) {
        best = m;
        bestKey = key;
      }
    }
    assert.ok(best, 'an eligible broker exists');
    return best;
  }
}

/**
 * Every partition as work; a live owner keeps it (or its eligible handover target gets it). Those with no
 * live owner, or a draining one, come back in needsOwner.
 */
function keepLiveOwners(tables: readonly TableSlots[], members: Map<number, Member>, loads: Loads): { work: Work[]; needsOwner: Work[] } {
  const work: Work[] = [];
  const needsOwner: Work[] = [];
  for (const t of tables) {
    for (let p = 0; p < t.partitions; p++) {
      const previous = t.slots[p];
      const next: OwnerSlot = previous ? { ...previous } : { ...unowned };
      const w: Work = { table: t.table, partition: p, previous, next, final: -1, direct: false };
      work.push(w);
      if (!isLive(previous, members)) {
        needsOwner.push(w);
        continue;
      }
      // A live owner: its handover target stands if eligible; else it stays with the owner if eligible.
      if (next.target >= 0 && (!loads.eligibleIds.has(next.target) || next.target === next.owner)) next.target = -1;
      if (next.target >= 0) w.final = next.target;
      else if (loads.eligibleIds.has(next.owner)) w.final = next.owner;
      else needsOwner.push(w); // a draining owner: a target is chosen in assignOwners
      if (w.final >= 0) loads.count(t.table, w.final, 1);
    }
  }
  return { work, needsOwner };
}

/** A new owner (epoch bumped) where the owner is gone; a handover target where it is draining. */
function assignOwners(needsOwner: readonly Work[], members: Map<number, Member>, loads: Loads): void {
  for (const w of needsOwner) {
    const m = loads.pick(w.table, -1);
    w.final = m.nodeId;
    loads.count(w.table, m.nodeId, 1);
    if (isLive(w.previous, members)) {
      w.next.target = m.nodeId; // draining owner hands over
    } else {
      w.next = { owner: m.nodeId, ownerRev: m.rev, epoch: (w.previous?.epoch ?? -1) + 1, target: -1 };
      w.direct = true;
    }
  }
}

/** Moves partitions from brokers above the ceiling (or more than one above the lightest) to the lightest. */
function balance(work: readonly Work[], loads: Loads): void {
  const { eligible, load } = loads;
  const total = work.length;
  const ceil = Math.ceil(total / eligible.length);
  for (let guard = 0; guard < total; guard++) {
    let heavy = eligible[0]!;
    let light = eligible[0]!;
    for (const m of eligible) {
      if (load.get(m.nodeId)! > load.get(heavy.nodeId)!) heavy = m;
      if (load.get(m.nodeId)! < load.get(light.nodeId)!) light = m;
    }
    const hl = load.get(heavy.nodeId)!;
    if (hl <= ceil && hl - load.get(light.nodeId)! <= 1) break;
    const candidate = movableFrom(work, loads, heavy.nodeId);
    if (!candidate) break;
    loads.count(candidate.table, heavy.nodeId, -1);
    const to = loads.pick(candidate.table, heavy.nodeId);
    loads.count(candidate.table, to.nodeId, 1);
    candidate.final = to.nodeId;
    if (candidate.direct) candidate.next = { ...candidate.next, owner: to.nodeId, ownerRev: to.rev };
    else candidate.next.target = to.nodeId;
  }
}

/** The partition of the heavy broker whose table it holds most of; moves of settled partitions only. */
function movableFrom(work: readonly Work[], loads: Loads, heavyNodeId: number): Work | null {
  let candidate: Work | null = null;
  let candidateScore = -1;
  for (const w of work) {
    if (w.final !== heavyNodeId) continue;
    // Newly assigned partitions move freely; settled ones only when no handover is pending.
    if (!w.direct && !(w.next.owner === heavyNodeId && w.next.target < 0)) continue;
    const score = loads.perTableNode.get(`${w.table}\u0000${heavyNodeId}`) ?? 0;
    if (score > candidateScore) {
      candidate = w;
      candidateScore = score;
    }
  }
  return candidate;
}
