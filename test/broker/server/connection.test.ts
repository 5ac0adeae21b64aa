// The connection's order of effects (broker/server/connection.ts): requests of `ordered` handlers start one after
// another in arrival order, each once the previous ordered one has applied its effects (ctx.applied(), or when it
// finishes or fails), while other requests are handled at once; responses always leave in request order.
// Fake handlers on a real loopback socket: DeleteGroups stands for an ordered API, ListGroups for an unordered one.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import type { BrokerServices, Handler, RequestContext } from '../../../broker/handlers/context.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { decodeResponse, encodeRequest } from '../../../broker/protocol/frame.ts';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import type { DeleteGroupsRequest } from '../../../broker/protocol/generated/index.ts';
import { Connection } from '../../../broker/server/connection.ts';
import { RawConnection } from '../../support/raw-client.ts';

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** What the fake handlers did, in order, and the gates that hold the requests named 'held...'. */
class Script {
  readonly events: string[] = [];
  readonly gates = new Map<string, Gate>();

  hold(name: string): Gate {
    const g = gate();
    this.gates.set(name, g);
    return g;
  }

  async until(what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.events.includes(what)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for '${what}'; events: ${this.events.join(', ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

function handlers(script: Script): (Handler | undefined)[] {
  const table: (Handler | undefined)[] = [];
  table[ApiKey.DeleteGroups] = {
    apiKey: ApiKey.DeleteGroups,
    minVersion: 2,
    maxVersion: 2,
    ordered: true,
    async handle(ctx: RequestContext, req: DeleteGroupsRequest) {
      const name = req.groupsNames[0]!;
      script.events.push(`start ${name}`);
      if (name.endsWith('early')) ctx.applied();
      const g = script.gates.get(name);
      if (g) await g.promise;
      if (name.startsWith('fail')) throw new Error('handler failure');
      script.events.push(`end ${name}`);
      return { throttleTimeMs: 0, results: [{ groupId: name, errorCode: 0 }] };
    },
  };
  table[ApiKey.ListGroups] = {
    apiKey: ApiKey.ListGroups,
    minVersion: 4,
    maxVersion: 4,
    handle() {
      script.events.push('unordered');
      return { throttleTimeMs: 0, errorCode: 0, groups: [] };
    },
  };
  return table;
}

/** The connections the server accepted, for tests that wait on their side of a close. */
const accepted: Connection[] = [];

async function serve(t: Test, script: Script): Promise<RawConnection> {
  const table = handlers(script);
  const connections: Connection[] = [];
  const server: Server = createServer((socket) => {
    connections.push(
      new Connection(socket, {
        listener: { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '127.0.0.1', port: 0 },
        limits: { maxFrameBytes: 1 << 20, maxInFlightRequests: 100, maxInFlightBytes: 1 << 20 },
        handlers: table,
        services: {} as BrokerServices,
        logger: silentLogger(),
      }),
    );
    accepted.push(connections[connections.length - 1]!);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = await RawConnection.connect((server.address() as AddressInfo).port);
  t.teardown(async () => {
    client.close();
    for (const c of connections) c.destroy();
    await new Promise((r) => server.close(r));
  });
  return client;
}

/** Sends the requests back to back without waiting; returns their correlation ids. */
function send(client: RawConnection, names: string[]): number[] {
  return names.map((name) => {
    const id = client.nextCorrelationId();
    if (name === 'unordered') client.write(encodeRequest(ApiKey.ListGroups, 4, id, 'test', { statesFilter: [], typesFilter: [] }));
    else client.write(encodeRequest(ApiKey.DeleteGroups, 2, id, 'test', { groupsNames: [name] }));
    return id;
  });
}

async function responses(client: RawConnection, names: string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const name of names) {
    const r = await client.next(5000);
    if (!('frame' in r)) throw new Error(`no response for ${name}`);
    ids.push(
      decodeResponse(r.frame, name === 'unordered' ? ApiKey.ListGroups : ApiKey.DeleteGroups, name === 'unordered' ? 4 : 2).correlationId,
    );
  }
  return ids;
}

t.test('an ordered request waits for the previous one; unordered ones do not', async (t) => {
  const script = new Script();
  const held = script.hold('held');
  const client = await serve(t, script);
  const names = ['held', 'next', 'unordered'];
  const ids = send(client, names);
  await script.until('unordered');
  t.same(script.events, ['start held', 'unordered'], 'the second ordered request has not started while the first is held');
  held.open();
  t.same(await responses(client, names), ids, 'responses in request order');
  t.same(script.events, ['start held', 'unordered', 'end held', 'start next', 'end next']);
});

t.test('applied() lets the next ordered request start before the first finishes', async (t) => {
  const script = new Script();
  const held = script.hold('held-early');
  const client = await serve(t, script);
  const names = ['held-early', 'next'];
  const ids = send(client, names);
  await script.until('end next');
  t.same(script.events, ['start held-early', 'start next', 'end next']);
  held.open();
  t.same(await responses(client, names), ids, 'responses still in request order');
});

t.test('after a failed request the ordered requests behind it are not handled; the connection closes', async (t) => {
  const script = new Script();
  const held = script.hold('fail');
  const client = await serve(t, script);
  send(client, ['fail', 'next', 'after']);
  await script.until('start fail');
  held.open();
  t.ok(await client.closesWithin(5000), 'the connection closes after the failure, as for any failed request');
  t.same(script.events, ['start fail'], 'neither later ordered request ran (Kafka never reads past the failure)');
});

t.test('a closed connection does not run its waiting ordered requests', async (t) => {
  const script = new Script();
  const held = script.hold('held');
  const client = await serve(t, script);
  send(client, ['held', 'next']);
  await script.until('start held');
  client.close();
  await accepted[accepted.length - 1]!.closed;
  held.open();
  await script.until('end held');
  // The handler in progress finishes; the one waiting behind it is dropped. Give any wrongly scheduled
  // dispatch the microtasks and a timer turn it would need before looking.
  await new Promise((r) => setImmediate(r));
  t.same(script.events, ['start held', 'end held']);
});

t.test('many pipelined ordered requests run one at a time in arrival order', async (t) => {
  const script = new Script();
  const client = await serve(t, script);
  const names = Array.from({ length: 50 }, (_, i) => `r${i}`);
  const ids = send(client, names);
  t.same(await responses(client, names), ids);
  t.same(
    script.events,
    names.flatMap((n) => [`start ${n}`, `end ${n}`]),
  );
});
