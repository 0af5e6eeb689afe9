import { MemoryStorage } from '../../lib/storage/memory.js';
import { describeStorage } from './conformance.js';

describeStorage('memory', async (now) => new MemoryStorage(now));
