/**
 * A frozen clock for tests (the storage conformance suite's, and the project's own through
 * test/helpers/clock.ts): time moves only when the test says so.
 */
export interface TestClock {
  (): number;
  advance(ms: number): void;
  set(ms: number): void;
}

export function frozenClock(start = Date.UTC(2026, 0, 1)): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.advance = (ms) => {
    now += ms;
  };
  clock.set = (ms) => {
    now = ms;
  };
  return clock;
}
