// The Kafka listener: accepts connections and hands each to a Connection; graceful close stops accepting,
// lets in-flight requests finish and their responses go out, then closes the sockets.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { BrokerServices, Handler } from '../handlers/context.ts';
import type { Listener } from '../config.ts';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { certificatePrincipal, tlsOptions, watchTlsFiles } from '../security/tls.ts';
import type { KafkaPrincipal } from '../security/principal.ts';
import { Connection } from './connection.ts';
import type { ConnectionLimits, ConnectionSasl } from './connection.ts';
import { ConnectionQuotas } from './connection-quotas.ts';
import { SaslSession } from '../security/sasl/session.ts';

export interface KafkaServer {
  readonly port: number;
  readonly connectionCount: number;
  close(graceMs: number): Promise<void>;
}

/** A SASL session of a connection of a SASL listener (the settings in force when it starts), or undefined elsewhere. */
function saslOf(listener: Listener, services: BrokerServices): ((reauthenticating: KafkaPrincipal | null) => ConnectionSasl) | undefined {
  if (listener.securityProtocol !== 'SASL_PLAINTEXT' && listener.securityProtocol !== 'SASL_SSL') return undefined;
  const store = services.scramCredentials;
  return (reauthenticating) => {
    const config = services.config;
    return {
      session: new SaslSession(config.listenerSecurity[listener.name]!, (mechanism, user) => store.get(mechanism, user), reauthenticating),
      maxReceiveBytes: config.saslServerMaxReceiveSize,
      failedAuthenticationDelayMs: config.connectionFailedAuthenticationDelayMs,
    };
  };
}

export async function startKafkaServer(args: {
  listener: Listener;
  limits: ConnectionLimits;
  handlers: readonly (Handler | undefined)[];
  services: BrokerServices;
  logger: Logger;
  idleTimeoutMs: number;
}): Promise<KafkaServer> {
  const connections = new Set<Connection>();
  const { listener } = args;
  const tlsSettings =
    listener.securityProtocol === 'SSL' || listener.securityProtocol === 'SASL_SSL'
      ? args.services.config.listenerSecurity[listener.name]!.ssl
      : null;
  // max.connections, max.connections.per.ip (and its overrides): counted per listener.
  const quotas = new ConnectionQuotas();
  const onConnection = (socket: Socket) => {
    const admitted = quotas.admit(args.services.config, socket.remoteAddress ?? '');
    if (!admitted.ok) {
      args.logger.info({ client: `${socket.remoteAddress}:${socket.remotePort}` }, `closing connection: ${admitted.reason}`);
      socket.destroy();
      return;
    }
    socket.once('close', () => quotas.release(admitted.ip));
    let principal: KafkaPrincipal | undefined;
    if (tlsSettings !== null && listener.securityProtocol === 'SSL') {
      // SSL: the client certificate's subject is the principal (SASL_SSL: SASL sets it).
      const cert = (socket as TLSSocket).getPeerCertificate();
      if ((socket as TLSSocket).authorized && cert?.raw !== undefined) {
        const p = certificatePrincipal(tlsSettings.principalMappingRules, cert.raw);
        if (p === null) {
          args.logger.info(
            { client: `${socket.remoteAddress}:${socket.remotePort}` },
            'closing connection: no ssl.principal.mapping.rules rule applies to the client certificate',
          );
          socket.destroy();
          return;
        }
        principal = p;
        args.logger.debug(
          { client: `${socket.remoteAddress}:${socket.remotePort}`, principal: `User:${p.name}` },
          'TLS client authenticated',
        );
      }
    }
    const c = new Connection(socket, {
      listener,
      principal,
      sasl: saslOf(listener, args.services),
      limits: args.limits,
      handlers: args.handlers,
      services: args.services,
      logger: args.logger,
    });
    connections.add(c);
    socket.setTimeout(args.idleTimeoutMs, () => {
      if (c.inFlightRequests === 0) socket.destroy(); // connections.max.idle.ms
    });
    void c.closed.then(() => connections.delete(c));
  };
  let stopWatching = () => {};
  let server: Server;
  if (tlsSettings !== null) {
    const tlsServer = createTlsServer(tlsOptions(tlsSettings), onConnection);
    // A failed TLS handshake (a plaintext client, no or an untrusted client certificate): the socket is closed.
    tlsServer.on('tlsClientError', (err, socket) =>
      args.logger.info(
        { client: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message },
        'TLS handshake failed; connection closed',
      ),
    );
    stopWatching = watchTlsFiles(tlsSettings, args.logger, (options) => tlsServer.setSecureContext(options));
    server = tlsServer;
  } else {
    server = createServer(onConnection);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: args.listener.host, port: args.listener.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : args.listener.port;
  const { name, securityProtocol, host } = args.listener;
  args.logger.info({ listener: name, securityProtocol, host, port }, 'listening for Kafka clients');
  return {
    port,
    get connectionCount() {
      return connections.size;
    },
    async close(graceMs: number) {
      stopWatching();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.closeAfterResponses();
      // Not unref'd: while connections drain, this timer may be all that keeps the process alive, and an
      // emptied event loop would end the process in the middle of its shutdown (before the last flush).
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.all([...connections].map((c) => c.closed)), deadline]);
      clearTimeout(timer);
      for (const c of connections) c.destroy();
      await stopped;
    },
  };
}
