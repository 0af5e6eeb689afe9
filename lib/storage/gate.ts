/**
 * In-process transactions for the backends that run in this process (memory, SQLite): one
 * transaction at a time, and plain operations wait while one runs, so nothing else reads or
 * writes between a transaction's steps. Usage in an operation:
 *
 *   while (this.gate.pending) await this.gate.pending;
 *   ...the operation, synchronously...
 */
export class Gate {
  /** Set while a transaction runs; resolves when it ends. */
  pending: Promise<void> | undefined;

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // The check and the set below run without yielding in between: no two transactions start.
    while (this.pending) await this.pending;
    let release!: () => void;
    this.pending = new Promise<void>((resolve) => (release = resolve));
    try {
      return await fn();
    } finally {
      this.pending = undefined;
      release();
    }
  }
}
