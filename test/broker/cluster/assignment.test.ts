import t from 'tap';
import { computeAssignment } from '../../../broker/cluster/assignment.ts';
import type { Member, OwnerSlot, TableSlots } from '../../../broker/cluster/assignment.ts';

function apply(tables: TableSlots[], members: Member[]): { tables: TableSlots[]; moved: number; handovers: number } {
  const changes = computeAssignment(tables, members);
  let moved = 0;
  let handovers = 0;
  const next = tables.map((tb) => ({ ...tb, slots: [...tb.slots] }));
  for (const c of changes) {
    const tb = next.find((x) => x.table === c.table)!;
    if (c.previous && c.previous.owner !== c.next.owner) moved++;
    if (c.next.target >= 0) handovers++;
    tb.slots[c.partition] = c.next;
  }
  return { tables: next, moved, handovers };
}

/** Completes every pending handover, as the owners would. */
function settle(tables: TableSlots[], members: Member[]): TableSlots[] {
  const byId = new Map(members.map((m) => [m.nodeId, m]));
  return tables.map((tb) => ({
    ...tb,
    slots: tb.slots.map((s) =>
      s && s.target >= 0 ? { owner: s.target, ownerRev: byId.get(s.target)!.rev, epoch: s.epoch + 1, target: -1 } : s,
    ),
  }));
}

function loads(tables: TableSlots[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const tb of tables) for (const s of tb.slots) if (s) m.set(s.owner, (m.get(s.owner) ?? 0) + 1);
  return m;
}

const member = (nodeId: number, rev = nodeId * 10, rack: string | null = null, draining = false): Member => ({
  nodeId,
  rev,
  rack,
  draining,
});

t.test('fresh assignment is balanced and deterministic', async (t) => {
  const tables: TableSlots[] = [
    { table: 'a', slots: [], partitions: 10 },
    { table: 'b', slots: [], partitions: 7 },
  ];
  const ms = [member(1), member(2), member(3)];
  const r1 = apply(tables, ms);
  const r2 = apply(tables, [...ms].reverse());
  t.same(r1.tables, r2.tables, 'same result whatever the member order');
  t.equal(r1.handovers, 0, 'nothing to hand over on a fresh assignment');
  const l = loads(r1.tables);
  t.same([...l.values()].sort(), [5, 6, 6]);
  for (const tb of r1.tables) for (const s of tb.slots) t.equal(s!.epoch, 0);
  t.same(computeAssignment(r1.tables, ms), [], 'a valid assignment is left alone');
});

t.test('a dead broker: only its partitions move, epochs bump, the result stays balanced', async (t) => {
  const ms = [member(1), member(2), member(3)];
  const first = apply([{ table: 'a', slots: [], partitions: 30 }], ms).tables;
  const survivors = [member(1), member(3)];
  const r = apply(first, survivors);
  t.equal(r.handovers, 0);
  t.equal(r.moved, 10, "exactly the dead broker's ten partitions move");
  for (let p = 0; p < 30; p++) {
    const before = first[0]!.slots[p]!;
    const after = r.tables[0]!.slots[p]!;
    if (before.owner === 2) {
      t.not(after.owner, 2);
      t.equal(after.epoch, before.epoch + 1);
    } else {
      t.same(after, before);
    }
  }
  t.same([...loads(r.tables).values()].sort(), [15, 15]);
});

t.test('a restarted broker (new incarnation) counts as a new member: its old partitions are reassigned', async (t) => {
  const first = apply([{ table: 'a', slots: [], partitions: 4 }], [member(1), member(2)]).tables;
  const r = apply(first, [member(1), member(2, 99)]);
  for (const s of r.tables[0]!.slots) t.ok(s!.ownerRev === 10 || s!.ownerRev === 99);
  t.same([...loads(r.tables).values()].sort(), [2, 2]);
});

t.test('a joining broker takes its share through handovers, moving as few as possible', async (t) => {
  const first = apply([{ table: 'a', slots: [], partitions: 12 }], [member(1), member(2)]).tables;
  const ms = [member(1), member(2), member(3)];
  const r = apply(first, ms);
  t.equal(r.moved, 0, 'live owners are never replaced directly');
  t.equal(r.handovers, 4, 'exactly a third moves');
  const settled = settle(r.tables, ms);
  t.same([...loads(settled).values()].sort(), [4, 4, 4]);
  t.same(computeAssignment(settled, ms), []);
});

t.test('a draining broker hands everything over and gets nothing new', async (t) => {
  const first = apply(
    [
      { table: 'a', slots: [], partitions: 9 },
      { table: 'g', slots: [], partitions: 5 },
    ],
    [member(1), member(2), member(3)],
  ).tables;
  const ms = [member(1), member(2), member(3, 30, null, true)];
  const r = apply(first, ms);
  for (const tb of r.tables) for (const s of tb.slots) if (s!.owner === 3) t.ok(s!.target === 1 || s!.target === 2);
  const settled = settle(r.tables, ms);
  t.notOk(loads(settled).has(3));
  t.same([...loads(settled).values()].sort(), [7, 7]);
});

t.test('rack awareness spreads a table across racks', async (t) => {
  const ms = [member(1, 10, 'r1'), member(2, 20, 'r1'), member(3, 30, 'r2'), member(4, 40, 'r2')];
  const r = apply([{ table: 'a', slots: [], partitions: 2 }], ms);
  const racks = r.tables[0]!.slots.map((s) => ms.find((m) => m.nodeId === s!.owner)!.rack);
  t.same(racks.sort(), ['r1', 'r2']);
});

t.test('no eligible broker: nothing changes', async (t) => {
  const slot: OwnerSlot = { owner: 1, ownerRev: 10, epoch: 3, target: -1 };
  t.same(computeAssignment([{ table: 'a', slots: [slot], partitions: 1 }], [member(1, 10, null, true)]), []);
  t.same(computeAssignment([{ table: 'a', slots: [slot], partitions: 1 }], []), []);
});

t.test('large: 10,000 partitions over 5 brokers, one leaves', async (t) => {
  const ms = [1, 2, 3, 4, 5].map((n) => member(n));
  const first = apply([{ table: 'a', slots: [], partitions: 10000 }], ms).tables;
  t.same([...loads(first).values()], [2000, 2000, 2000, 2000, 2000]);
  const r = apply(
    first,
    ms.filter((m) => m.nodeId !== 4),
  );
  t.equal(r.moved, 2000);
  t.same([...loads(r.tables).values()].sort(), [2500, 2500, 2500, 2500]);
});
