// pysym's exceptions, mirroring pysym/_errors.py: one root, a few actionable subclasses.
// Messages about bad input come from the wasm module (pysym_last_error); the host never
// carries copies of them.

export class PysymError extends Error {
  /** @param {string} message @param {number|null} [code] the ABI status, when there is one */
  constructor(message, code = null) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The input (a source map, a debug file) is malformed. */
export class InvalidInputError extends PysymError {}

/** The input needs more than a configured or built-in limit allows. */
export class ResourceLimitError extends PysymError {}

/** The module ran out of its memory cap. */
export class MemoryLimitError extends ResourceLimitError {}

/** The wasm module trapped; the instance is thrown away and the next call gets a fresh one. */
export class SandboxError extends PysymError {}

/** A call in a worker ran past its timeout; the worker was terminated and is restarted. */
export class TimeoutError extends SandboxError {}

const CLASSES = { PysymError, InvalidInputError, ResourceLimitError, MemoryLimitError, SandboxError, TimeoutError };

/** Plain-object form of an error, for postMessage. */
export function serializeError(e) {
  if (e instanceof PysymError) return { kind: e.name, message: e.message, code: e.code };
  return { kind: (e && e.name) || "Error", message: String((e && e.message) || e), code: null };
}

/** The error object for a serialized error (pysym classes are rebuilt, others become Error). */
export function deserializeError(obj) {
  const cls = CLASSES[obj.kind];
  if (cls) return new cls(obj.message, obj.code);
  const err = obj.kind === "TypeError" ? new TypeError(obj.message)
    : obj.kind === "RangeError" ? new RangeError(obj.message) : new Error(obj.message);
  return err;
}
