// A stand-in for a stolen controller (or anyone in the middle): answers each route as a test says, 404 otherwise.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostileController {
  readonly url: string;
  /** From now on, `route` ("POST /v1/rollouts") answers `status` with `body` as JSON. */
  answer(route: string, status: number, body: unknown): void;
  close(): Promise<void>;
}

export async function hostileController(): Promise<HostileController> {
  const routes = new Map<string, { status: number; body: string }>();
  const server = createServer((req, res) => {
    // Read the whole request first: an answer sent mid-upload would be a reset, not the answer under test.
    req.resume();
    req.on('end', () => {
      const answer = routes.get(`${req.method ?? ''} ${req.url ?? ''}`) ?? { status: 404, body: '{"error":"not found"}' };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answer: (route, status, body) => routes.set(route, { status, body: JSON.stringify(body) }),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
