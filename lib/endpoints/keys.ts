/** `/keys`: the JSON Web Key Set of the signing keys, current and those still verifying tokens. */
import type { Request, Response } from 'express';
import type { BrokerContext } from '../context.js';

export async function keys(ctx: BrokerContext, _req: Request, res: Response): Promise<void> {
  res.set('Cache-Control', 'public, max-age=60, must-revalidate').json({ keys: await ctx.keys.publicKeys() });
}
