// max.connections, max.connections.per.ip and max.connections.per.ip.overrides: a connection over a limit is
// closed at once; the others are served; a closed connection frees its slot.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { startTestBroker, TestClient } from '../handlers/support/client.ts';
import { parseOverrides } from '../../../broker/server/connection-quotas.ts';
import { until } from '../../support/until.ts';

const apiVersions = (c: TestClient) => c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });

t.test('max.connections.per.ip', async (t) => {
  // The test broker's own client holds one connection from 127.0.0.1.
  const { port } = await startTestBroker(t, { 'max.connections.per.ip': '3' });
  const second = await TestClient.connect(port);
  const third = await TestClient.connect(port);
  t.teardown(() => [second, third].forEach((c) => c.close()));
  await apiVersions(third);
  const fourth = await TestClient.connect(port);
  await t.rejects(apiVersions(fourth), /closed/, 'the fourth connection from 127.0.0.1 is closed');
  second.close();
  await until(async () => {
    const c = await TestClient.connect(port);
    try {
      await apiVersions(c);
      return true;
    } catch {
      return false;
    } finally {
      c.close();
    }
  }, 'a slot freed by a closed connection');
  t.pass('a new connection is served once one closed');
});

t.test('max.connections.per.ip.overrides and max.connections', async (t) => {
  const { port } = await startTestBroker(t, {
    'max.connections.per.ip': '1',
    'max.connections.per.ip.overrides': '127.0.0.1:2',
    'max.connections': '5',
  });
  const second = await TestClient.connect(port);
  t.teardown(() => second.close());
  await apiVersions(second);
  const third = await TestClient.connect(port);
  await t.rejects(apiVersions(third), /closed/, 'the override (2) applies to 127.0.0.1');
  t.strictSame(
    [...parseOverrides(' 10.0.0.1:200, ::1:3 ,::ffff:10.0.0.2:0')],
    [
      ['10.0.0.1', 200],
      ['::1', 3],
      ['10.0.0.2', 0],
    ],
  );
});

t.test('max.connections', async (t) => {
  const { port } = await startTestBroker(t, { 'max.connections': '2' });
  const second = await TestClient.connect(port);
  t.teardown(() => second.close());
  await apiVersions(second);
  const third = await TestClient.connect(port);
  await t.rejects(apiVersions(third), /closed/, 'the third connection of the broker is closed');
});
