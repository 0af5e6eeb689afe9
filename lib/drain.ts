/**
 * Stopping a `node:http` / `node:https` server without cutting the requests it is serving: stop
 * accepting, close the idle keep-alive sockets, let the requests in flight finish (their
 * responses carry `Connection: close`, so no socket is kept for another request), and after a
 * deadline close whatever is left, counting the requests that were cut.
 */
import type http from 'node:http';

export interface DrainableServer {
  /** Stops accepting and waits for the requests in flight, at most `deadlineMs`; resolves to the number of requests cut. */
  drain(deadlineMs: number): Promise<number>;
}

/** Starts counting `server`'s requests in flight; call before it serves any. */
export function drainable(server: http.Server): DrainableServer {
  const inFlight = new Set<http.ServerResponse>();
  let draining = false;
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight.add(res);
    if (draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      // A keep-alive socket whose response was already under way when draining began is idle
      // now: close it, or the server's close waits for its keep-alive timeout.
      if (draining) server.closeIdleConnections();
    });
  });
  return {
    drain(deadlineMs) {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      return new Promise<number>((resolve) => {
        let cut = 0;
        const deadline = setTimeout(() => {
          cut = inFlight.size;
          server.closeAllConnections();
        }, deadlineMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve(cut);
        });
        server.closeIdleConnections();
      });
    },
  };
}
