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
  const eligibleIds = new Set(eligible.map((m) => m.nodeId));
  const load = new Map<number, number>(eligible.map((m) => [m.nodeId, 0]));
  /** Partitions of each table per node and per rack, for tie-breaking. */
  const perTableNode = new Map<string, number>();
  const perTableRack = new Map<string, number>();
  const rackOf = (nodeId: number) => members.get(nodeId)?.rack ?? `node:${nodeId}`;
  const count = (table: string, nodeId: number, delta: number) => {
    load.set(nodeId, (load.get(nodeId) ?? 0) + delta);
    const kn = `${table}\u0000${nodeId}`;
    perTableNode.set(kn, (perTableNode.get(kn) ?? 0) + delta);
    const kr = `${table}\u0000${rackOf(nodeId)}`;
    perTableRack.set(kr, (perTableRack.get(kr) ?? 0) + delta);
  };
  const pick = (table: string, exclude: number): Member => {
    let best: Member | null = null;
    let bestKey: [number, number, number, number] | null = null;
    for (const m of eligible) {
      if (m.nodeId === exclude) continue;
      const key: [number, number, number, number] = [
        load.get(m.nodeId)!,
        perTableRack.get(`${table}\u0000${rackOf(m.nodeId)}`) ?? 0,
        perTableNode.get(`${table}\u0000${m.nodeId}`) ?? 0,
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
  };

  const changes: SlotChange[] = [];
  /** The owner each partition will end with (after a pending handover). */
  interface Work {
    table: string;
    partition: number;
    previous: OwnerSlot | undefined;
    next: OwnerSlot;
    final: number;
    direct: boolean;
  }
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
      if (next.target >= 0 && (!eligibleIds.has(next.target) || next.target === next.owner)) next.target = -1;
      if (next.target >= 0) w.final = next.target;
      else if (eligibleIds.has(next.owner)) w.final = next.owner;
      else needsOwner.push(w); // a draining owner: a target is chosen below
      if (w.final >= 0) count(t.table, w.final, 1);
    }
  }
  for (const w of needsOwner) {
    const m = pick(w.table, -1);
    w.final = m.nodeId;
    count(w.table, m.nodeId, 1);
    if (isLive(w.previous, members)) {
      w.next.target = m.nodeId; // draining owner hands over
    } else {
      w.next = { owner: m.nodeId, ownerRev: m.rev, epoch: (w.previous?.epoch ?? -1) + 1, target: -1 };
      w.direct = true;
    }
  }
  // Balance: move partitions from brokers above the ceiling (or more than one above the lightest) to the lightest.
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
    // The partition of the heavy broker whose table it holds most of; moves of settled partitions only.
    let candidate: Work | null = null;
    let candidateScore = -1;
    for (const w of work) {
      if (w.final !== heavy.nodeId) continue;
      // Newly assigned partitions move freely; settled ones only when no handover is pending.
      if (!w.direct && !(w.next.owner === heavy.nodeId && w.next.target < 0)) continue;
      const score = perTableNode.get(`${w.table}\u0000${heavy.nodeId}`) ?? 0;
      if (score > candidateScore) {
        candidate = w;
        candidateScore = score;
      }
    }
    if (!candidate) break;
    count(candidate.table, heavy.nodeId, -1);
    const to = pick(candidate.table, heavy.nodeId);
    count(candidate.table, to.nodeId, 1);
    candidate.final = to.nodeId;
    if (candidate.direct) candidate.next = { ...candidate.next, owner: to.nodeId, ownerRev: to.rev };
    else candidate.next.target = to.nodeId;
  }
  for (const w of work) {
    const p = w.previous;
    if (p && p.owner === w.next.owner && p.ownerRev === w.next.ownerRev && p.epoch === w.next.epoch && p.target === w.next.target) continue;
    changes.push({ table: w.table, partition: w.partition, previous: p, next: w.next });
  }
  return changes;
}
