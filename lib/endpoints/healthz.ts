/** `/healthz` on the public address: 200 while the storage answers, else 503 (plain text, as Dex). */
import type { Request, Response } from 'express';
import type { BrokerContext } from '../context.js';

export async function healthz(ctx: BrokerContext, _req: Request, res: Response): Promise<void> {
  try {
    await ctx.storage.ping();
    res.type('text').send('Health check passed');
  } catch {
    res.status(503).type('text').send('Health check failed: storage unavailable');
  }
}
