/**
 * The conformance suite under node:test instead of jest, on the memory backend: run by
 * test/storage/framework-independent.test.ts as `node --import tsx --test <this file>`.
 */
import { afterEach, describe, test } from 'node:test';
import { describeStorage } from '../../lib/storage/conformance.js';
import { MemoryStorage } from '../../lib/storage/memory.js';

describeStorage('memory', async (now) => new MemoryStorage(now), { describe, test, afterEach });
