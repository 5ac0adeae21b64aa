// A TCP proxy that loses responses: while `dropping`, each chunk the broker sends back is, with probability
// `dropRate` (after the connection's first `spareChunks`; the first cut at the latest at the fifth such chunk),
// not delivered — both sockets are destroyed instead.
// The broker has then processed the request but the client never hears of it, so an idempotent producer
// retries a batch that is already in the log. The upstream port is read at each new connection, so the broker
// behind it may restart on another port.
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Eligible chunks after which the first cut happens even if chance has not cut yet. */
const forcedDropAfter = 5;

export class TcpDropProxy {
  readonly server: Server;
  dropping = false;
  dropRate: number;
  spareChunks: number;
  /** Connections cut so far. */
  drops = 0;
  /** Response chunks that could have been dropped (while dropping, past each connection's spare ones). */
  private eligibleChunks = 0;
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private readonly upstreamPort: () => number;

  private constructor(server: Server, upstreamPort: () => number, dropRate: number, spareChunks: number) {
    this.server = server;
    this.upstreamPort = upstreamPort;
    this.dropRate = dropRate;
    this.spareChunks = spareChunks;
    server.on('connection', (client) => this.onConnection(client));
  }

  static async start(upstreamPort: () => number, opts: { dropRate?: number; spareChunks?: number } = {}): Promise<TcpDropProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TcpDropProxy(server, upstreamPort, opts.dropRate ?? 0.1, opts.spareChunks ?? 2);
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private onConnection(client: Socket): void {
    this.connections++;
    const upstream = connect({ host: '127.0.0.1', port: this.upstreamPort() });
    this.sockets.add(client);
    this.sockets.add(upstream);
    let chunks = 0;
    const cut = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      chunks++;
      // At least one cut is certain: a slow machine (fewer, larger chunks; reconnects) must not leave a test
      // that wants the retry path without it.
      const eligible = this.dropping && chunks > this.spareChunks;
      if (eligible) this.eligibleChunks++;
      if (eligible && (Math.random() < this.dropRate || (this.drops === 0 && this.eligibleChunks >= forcedDropAfter))) {
        this.drops++;
        cut();
        return;
      }
      client.write(d);
    });
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', cut);
    upstream.on('close', cut);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
