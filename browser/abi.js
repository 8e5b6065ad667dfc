// Constants of the host ABI (wasm/ABI.md), for the JavaScript host.
//
// tests/browser/abi.test.mjs checks these against ABI.md's status table and version line,
// so the document stays the single contract (like tests/test_abi.py for pysym/_abi.py).

/** The ABI version this host speaks; a module reporting another one is refused. */
export const ABI_VERSION = 10;

export const NONE = 0xffffffff;

// Status codes (ABI.md "Status codes").
export const OK = 0;
export const BAD_HANDLE = -1;
export const BAD_ARGUMENT = -2;
export const OUT_OF_MEMORY = -3;
export const NEED_DATA = -4;
export const HOST_IO = -5;
export const LIMIT_EXCEEDED = -6;
export const INVALID_JSON = -16;
export const INVALID_SOURCEMAP = -17;
export const INVALID_MAPPINGS = -18;
export const INVALID_INDEX_MAP = -19;
export const INVALID_OBJECT = -32;
export const UNSUPPORTED_OBJECT = -33;
export const INVALID_SYMCACHE = -34;

export const STATUS_NAMES = Object.freeze({
  [OK]: "OK",
  [BAD_HANDLE]: "BAD_HANDLE",
  [BAD_ARGUMENT]: "BAD_ARGUMENT",
  [OUT_OF_MEMORY]: "OUT_OF_MEMORY",
  [NEED_DATA]: "NEED_DATA",
  [HOST_IO]: "HOST_IO",
  [LIMIT_EXCEEDED]: "LIMIT_EXCEEDED",
  [INVALID_JSON]: "INVALID_JSON",
  [INVALID_SOURCEMAP]: "INVALID_SOURCEMAP",
  [INVALID_MAPPINGS]: "INVALID_MAPPINGS",
  [INVALID_INDEX_MAP]: "INVALID_INDEX_MAP",
  [INVALID_OBJECT]: "INVALID_OBJECT",
  [UNSUPPORTED_OBJECT]: "UNSUPPORTED_OBJECT",
  [INVALID_SYMCACHE]: "INVALID_SYMCACHE",
});

// Token record: dst_line, dst_col, src, src_line, src_col, name (6 x u32).
export const TOKEN_WORDS = 6;
export const OUT_SLOT_WORDS = 16;

export const BIAS_GREATEST_LOWER_BOUND = 0;
export const BIAS_LEAST_UPPER_BOUND = 1;

export const STRINGS_SOURCES = 0;
export const STRINGS_NAMES = 1;
export const STRINGS_META = 2;

// Location record of a symcache (ABI.md "Location record", 9 x u32).
export const LOCATION_WORDS = 9;
