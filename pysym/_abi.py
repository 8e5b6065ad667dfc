"""Constants of the host ABI (``wasm/ABI.md``), shared by the Python host.

``tests/test_abi.py`` checks these against ABI.md's tables and the module's exports, so
the document stays the single contract.
"""

ABI_VERSION = 3

NONE = 0xFFFFFFFF

# Status codes (ABI.md "Status codes").
OK = 0
BAD_HANDLE = -1
BAD_ARGUMENT = -2
OUT_OF_MEMORY = -3
NEED_DATA = -4
HOST_IO = -5
LIMIT_EXCEEDED = -6
INVALID_JSON = -16
INVALID_SOURCEMAP = -17
INVALID_MAPPINGS = -18
INVALID_INDEX_MAP = -19
INVALID_OBJECT = -32
UNSUPPORTED_OBJECT = -33
INVALID_SYMCACHE = -34

STATUS_NAMES = {
    OK: "OK",
    BAD_HANDLE: "BAD_HANDLE",
    BAD_ARGUMENT: "BAD_ARGUMENT",
    OUT_OF_MEMORY: "OUT_OF_MEMORY",
    NEED_DATA: "NEED_DATA",
    HOST_IO: "HOST_IO",
    LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
    INVALID_JSON: "INVALID_JSON",
    INVALID_SOURCEMAP: "INVALID_SOURCEMAP",
    INVALID_MAPPINGS: "INVALID_MAPPINGS",
    INVALID_INDEX_MAP: "INVALID_INDEX_MAP",
    INVALID_OBJECT: "INVALID_OBJECT",
    UNSUPPORTED_OBJECT: "UNSUPPORTED_OBJECT",
    INVALID_SYMCACHE: "INVALID_SYMCACHE",
}

# Token record: dst_line, dst_col, src, src_line, src_col, name (6 x u32).
TOKEN_WORDS = 6
OUT_SLOT_WORDS = 16

BIAS_GREATEST_LOWER_BOUND = 0
BIAS_LEAST_UPPER_BOUND = 1

STRINGS_SOURCES = 0
STRINGS_NAMES = 1
STRINGS_META = 2

# Frame record of a symcache lookup (ABI.md "Frame record", 8 x u32).
FRAME_WORDS = 8
