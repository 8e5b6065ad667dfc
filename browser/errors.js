// pysym's exceptions: the same names and hierarchy as pysym/_errors.py, one root and a few
// actionable subclasses. Messages about bad input come from the wasm module
// (pysym_last_error); the host never carries copies of them.
//
//   PysymError
//   ├── InvalidInputError
//   ├── ResourceLimitError
//   │   ├── MemoryLimitError
//   │   ├── TimeLimitError
//   │   ├── InputTooLargeError
//   │   └── RequestTooLargeError
//   ├── SandboxError
//   └── FileChangedError
//
// The JavaScript host raises InputTooLargeError, RequestTooLargeError and FileChangedError
// nowhere yet (it has no input size limit, no symbolicator, no files reopened by path):
// they exist so that code handling errors is written once for both hosts.

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

/**
 * A call ran past its time limit (PysymWorker: its `timeout`); the worker it ran in was
 * terminated and the next call starts a fresh one.
 */
export class TimeLimitError extends ResourceLimitError {}

/** An input is larger than the host's limit; nothing was copied into the module. */
export class InputTooLargeError extends ResourceLimitError {}

/** A symbolication request has more frames or modules than allowed; nothing was looked up. */
export class RequestTooLargeError extends ResourceLimitError {}

/** The wasm module trapped; the instance is thrown away and the next call gets a fresh one. */
export class SandboxError extends PysymError {}

/** A file an object was opened from changed since it was opened. */
export class FileChangedError extends PysymError {}

/** @deprecated The old name of TimeLimitError (which was under SandboxError). */
export const TimeoutError = TimeLimitError;

const CLASSES = {
  PysymError, InvalidInputError, ResourceLimitError, MemoryLimitError, TimeLimitError, InputTooLargeError,
  RequestTooLargeError, SandboxError, FileChangedError, TimeoutError,
};

/** Plain-object form of an error, for postMessage. */
export function serializeError(e) {
  if (e instanceof PysymError) return { kind: e.name, message: e.message, code: e.code };
  return { kind: (e && e.name) || "Error", message: String((e && e.message) || e), code: null };
}

/** The error object for a serialized error (pysym classes are rebuilt, others become Error). */
export function deserializeError(obj) {
  const cls = Object.hasOwn(CLASSES, obj.kind) ? CLASSES[obj.kind] : null;
  if (cls) return new cls(obj.message, obj.code);
  const err = obj.kind === "TypeError" ? new TypeError(obj.message)
    : obj.kind === "RangeError" ? new RangeError(obj.message) : new Error(obj.message);
  return err;
}
