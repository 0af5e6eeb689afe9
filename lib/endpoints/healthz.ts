/**
 * `/healthz` on the public address: 200 while the storage takes writes, else 503 (plain text, as
 * Dex; Dex answers 500). The check writes and deletes a short-lived record, as Dex's does, and is
 * asked at most once per 5 s (lib/storage-health.ts).
 */
import type { Request, Response } from 'express';
import type { BrokerContext } from '../context.js';

export async function healthz(ctx: BrokerContext, _req: Request, res: Response): Promise<void> {
  if (await ctx.health.check()) res.type('text').send('Health check passed');
  else res.status(503).type('text').send('Health check failed: storage unavailable');
}
