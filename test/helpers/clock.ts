/** The frozen clock tests use: lib/storage/frozen-clock.ts, which the storage conformance suite shares. */
export { frozenClock, type TestClock } from '../../lib/storage/frozen-clock.js';
