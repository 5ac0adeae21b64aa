// The handler types tie a handler to its API key: `tsc` fails on the marked lines if they stop being errors.
import t from 'tap';
import { ApiKey, apiCodecs } from '../../../broker/protocol/generated/index.ts';
import type { HeartbeatRequest, HeartbeatResponseInput, SyncGroupRequest } from '../../../broker/protocol/generated/index.ts';
import type { ApiHandler, Handler, RequestContext } from '../../../broker/handlers/context.ts';
import { buildHandlerTable } from '../../../broker/handlers/index.ts';

const heartbeat: ApiHandler<typeof ApiKey.Heartbeat> = {
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(_ctx: RequestContext, req: HeartbeatRequest): HeartbeatResponseInput {
    return { errorCode: req.generationId < 0 ? 22 : 0 };
  },
};

export const wrongKey: ApiHandler<typeof ApiKey.Heartbeat> = {
  // @ts-expect-error: the key of another API
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 4,
  handle: heartbeat.handle,
};

export const wrongRequest: ApiHandler<typeof ApiKey.Heartbeat> = {
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  // @ts-expect-error: the request type of another API
  handle(_ctx: RequestContext, req: SyncGroupRequest): HeartbeatResponseInput {
    return { errorCode: req.generationId };
  },
};

export const extraField: ApiHandler<typeof ApiKey.Heartbeat> = {
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(): HeartbeatResponseInput {
    // @ts-expect-error: a field Heartbeat's response does not have
    return { errorCode: 0, memberId: 'm' };
  },
};

t.test('the handler table holds typed handlers, each under its own API key', async (t) => {
  const asTableEntry: Handler = heartbeat;
  t.equal(asTableEntry.apiKey, ApiKey.Heartbeat);
  const table = buildHandlerTable();
  let handlers = 0;
  table.forEach((h, key) => {
    if (!h) return;
    handlers++;
    t.equal(h.apiKey, key, `handler at ${key}`);
    const codec = apiCodecs[key];
    t.ok(codec && h.minVersion >= codec.minVersion && h.maxVersion <= codec.maxVersion, `${codec?.name} versions within the codec's`);
  });
  t.ok(handlers > 40, `${handlers} handlers`);
});
