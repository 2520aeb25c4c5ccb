const REDACTED = '[redacted]';

/**
 * A secret string (PIN, partition password, database URL) that never shows its value when printed,
 * logged, serialised or inspected. Only `reveal()` returns it.
 */
export class Secret {
  readonly #value: string;
  readonly #source: string;

  /** Wraps `value`; `source` says where it came from (`env:HSM_PIN`, `file:/path`, `inline`) and is not secret. */
  constructor(value: string, source: string) {
    this.#value = value;
    this.#source = source;
    Object.freeze(this);
  }

  /** The secret value. Call this only where the value is handed to the HSM module or the database driver. */
  reveal(): string {
    return this.#value;
  }

  /** Where the value came from (`env:NAME`, `file:/path`, `inline`); never the value itself. */
  get source(): string {
    return this.#source;
  }

  /** Always `[redacted]`, so template strings and string concatenation never show the value. */
  toString(): string {
    return REDACTED;
  }

  /** Always `[redacted]`, so `JSON.stringify` (and JSON loggers) never show the value. */
  toJSON(): string {
    return REDACTED;
  }

  /** Always `[redacted]`, whatever the conversion hint. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  /** What `util.inspect` and `console.log` show. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}
