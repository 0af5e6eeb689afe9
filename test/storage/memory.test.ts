import { afterEach, describe, test } from '@jest/globals';
import { describeStorage } from '../../lib/storage/conformance.js';
import { MemoryStorage } from '../../lib/storage/memory.js';

describeStorage('memory', async (now) => new MemoryStorage(now), { describe, test, afterEach });
