import net from 'node:net';

export interface RefusingPort {
  port: number;
  release(): Promise<void>;
}

/**
 * A port on 127.0.0.1 where connections are refused (ECONNREFUSED), reserved until `release()`:
 * it is the local end of a connection kept open here, and a connected socket holds its port
 * without listening on it. Unlike a port found free and closed again, no other test or process can
 * start listening on it in the meantime.
 */
export async function refusingPort(): Promise<RefusingPort> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  return {
    port: client.localPort!,
    async release() {
      client.destroy();
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
