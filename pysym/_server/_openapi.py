"""The OpenAPI 3.0 document served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .._symbolicate._stores import CASINGS, FILETYPES, LAYOUTS
from .._version import __version__

__all__ = ["openapi_document", "components", "SYMBOLICATE_BODY", "SYMBOLICATE_JS_BODY", "MINIDUMP_SOURCES",
           "MAX_REQUEST_SOURCES"]

MAX_REQUEST_SOURCES = 32

_FAILED = {"$ref": "#/components/schemas/Failed"}


def _json(schema: Any) -> Dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _resp(desc: str, schema: Any = _FAILED) -> Dict[str, Any]:
    return {"description": desc, "content": _json(schema)}


_TIMEOUT = {"name": "timeout", "in": "query", "required": False,
            "description": "seconds to wait for the result before answering 'pending'",
            "schema": {"type": "number", "minimum": 0, "maximum": 86400}}

_LAYOUT = {"oneOf": [
    {"type": "string", "enum": list(LAYOUTS)},
    {"type": "object", "additionalProperties": False, "properties": {
        "type": {"type": "string", "enum": list(LAYOUTS)}, "casing": {"type": "string", "enum": list(CASINGS)}}},
]}
_FILTERS = {"type": "object", "additionalProperties": False, "properties": {
    "filetypes": {"type": "array", "items": {"type": "string", "enum": list(FILETYPES)}},
    "path_patterns": {"type": "array", "items": {"type": "string"}}}}
_URL = {"type": "string", "pattern": r"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[^\s]*)?$"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_COMMON = {"id": {"type": "string", "minLength": 1}, "layout": _LAYOUT,
           "casing": {"type": "string", "enum": list(CASINGS)}, "filters": _FILTERS}
_HTTP_SOURCE = {"type": "object", "required": ["id", "type", "url"], "additionalProperties": False, "properties": dict(
    _COMMON, type={"type": "string", "enum": ["http"]}, url=_URL,
    headers={"type": "object", "additionalProperties": {"type": "string"}}, redirect_hosts=_STRINGS)}
_S3_SOURCE = {"type": "object", "required": ["id", "type", "bucket"], "additionalProperties": False, "properties": dict(
    _COMMON, type={"type": "string", "enum": ["s3"]}, bucket={"type": "string", "minLength": 1},
    prefix={"type": "string"}, region={"type": "string"}, endpoint_url=_URL,
    access_key={"type": "string"}, secret_key={"type": "string"})}
_GCS_SOURCE = {"type": "object", "required": ["id", "type", "bucket"], "additionalProperties": False,
               "properties": dict(
    _COMMON, type={"type": "string", "enum": ["gcs"]}, bucket={"type": "string", "minLength": 1},
    prefix={"type": "string"}, endpoint_url=_URL, client_email={"type": "string"}, private_key={"type": "string"})}


def _source(configured: List[str]) -> Dict[str, Any]:
    """A request's source: a configured source's id, or an http, s3 or gcs source."""
    forms: List[Any] = [_HTTP_SOURCE, _S3_SOURCE, _GCS_SOURCE]
    if configured:  # (an enum may not be empty)
        forms.insert(0, {"type": "string", "enum": configured, "description": "the id of a configured source"})
    return {"oneOf": forms}


_SOURCE = {"$ref": "#/components/schemas/Source"}
_SOURCES = {"type": "array", "maxItems": MAX_REQUEST_SOURCES, "nullable": True, "items": _SOURCE,
            "description": "sources for this request (default: every configured source)"}
_ADDR = {"oneOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}]}
_TEXT = {"type": "string", "nullable": True}

#: the body of POST /symbolicate (Symbolicator's request shape; values are checked by
#: the library, which reports a bad address or module per frame or module)
SYMBOLICATE_BODY = {
    "type": "object",
    "properties": {
        "stacktraces": {"type": "array", "items": {
            "type": "object", "required": ["frames"], "properties": {
                "frames": {"type": "array", "items": {"type": "object", "properties": {
                    "instruction_addr": _ADDR, "addr_mode": {"type": "string"},
                    "adjust_instruction_addr": {"type": "boolean", "nullable": True},
                    "trust": _TEXT, "function": _TEXT}}},
                "registers": {"type": "object", "nullable": True}}}},
        "modules": {"type": "array", "items": {"type": "object", "properties": {
            "type": {"type": "string"}, "image_addr": _ADDR, "image_size": _ADDR, "debug_id": _TEXT,
            "code_id": _TEXT, "debug_file": _TEXT, "code_file": _TEXT, "arch": _TEXT}}},
        "options": {"type": "object", "nullable": True, "properties": {
            "frame_order": {"type": "string", "enum": ["callee_first", "caller_first"]},
            "dif_candidates": {"type": "boolean"}, "apply_source_context": {"type": "boolean"}}},
        "sources": _SOURCES,
    }}
_LINE = {"type": "integer", "minimum": 1, "maximum": 0xFFFFFFFF}
#: the body of POST /symbolicate-js
SYMBOLICATE_JS_BODY = {
    "type": "object",
    "required": ["stacktraces"],
    "properties": {
        "stacktraces": {"type": "array", "items": {
            "type": "object", "required": ["frames"], "properties": {
                "frames": {"type": "array", "items": {"type": "object", "properties": {
                    "abs_path": _TEXT, "lineno": _LINE, "colno": _LINE, "function": _TEXT}}}}}},
        "modules": {"type": "array", "nullable": True, "items": {"type": "object", "properties": {
            "type": {"type": "string"}, "code_file": {"type": "string"}, "debug_id": {"type": "string"}}}},
        "sources": {"type": "array", "nullable": True, "items": {"type": "string"},
                    "description": "ids of configured js sources (default: all of them)"},
    }}
#: the ``sources`` field of POST /minidump's form (JSON text)
MINIDUMP_SOURCES = _SOURCES

_SYM_RESPONSES = {
    "200": _resp("completed, or pending (with a request_id to poll)", {
        "oneOf": [{"$ref": "#/components/schemas/Completed"}, {"$ref": "#/components/schemas/Pending"}]}),
    "400": _resp("bad request"),
    "404": _resp("unknown request id (or its result expired)"),
    "413": _resp("request too large"),
    "422": _resp("a sandbox limit was exceeded"),
    "502": _resp("the worker process died twice"),
    "503": _resp("busy: retry after Retry-After seconds"),
    "504": _resp("the request ran past request_timeout"),
}


_COMPONENTS: Dict[str, Any] = {
"Failed": {"type": "object", "required": ["status", "message"], "properties": {
    "status": {"type": "string", "enum": ["failed"]}, "error": {"type": "string"},
    "message": {"type": "string"}}},
"Pending": {"type": "object", "required": ["status", "request_id", "retry_after"], "properties": {
    "status": {"type": "string", "enum": ["pending"]}, "request_id": {"type": "string"},
    "retry_after": {"type": "integer"}}},
"Completed": {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string", "enum": ["completed"]},
    "stacktraces": {"type": "array", "items": {"type": "object"}},
    "modules": {"type": "array", "items": {"type": "object"}}}},
}


_FILE_RESPONSES = {"200": {"description": "the file", "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}, "404": _resp("not found")}


def components(source_ids: Optional[List[str]] = None) -> Dict[str, Any]:
    """The document's schemas; ``source_ids``: the configured sources a request may name."""
    return dict(_COMPONENTS, Source=_source(list(source_ids or [])))


def openapi_document(minidump: bool = False, source_ids: Optional[List[str]] = None) -> Dict[str, Any]:
    paths: Dict[str, Any] = {
        "/symbolicate": {"post": {
            "summary": "Symbolicate a native crash (Symbolicator's request shape)",
            "parameters": [_TIMEOUT],
            "requestBody": {"required": True, "content": _json(SYMBOLICATE_BODY)},
            "responses": _SYM_RESPONSES}},
        "/symbolicate-js": {"post": {
            "summary": "Map JavaScript frames through source maps found by debug id",
            "parameters": [_TIMEOUT],
            "requestBody": {"required": True, "content": _json(SYMBOLICATE_JS_BODY)},
            "responses": _SYM_RESPONSES}},
        "/requests/{request_id}": {"get": {
            "summary": "Poll an asynchronous request",
            "parameters": [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           _TIMEOUT],
            "responses": _SYM_RESPONSES}},
        "/healthcheck": {"get": {"summary": "Liveness", "responses": {"200": _resp("ok", {"type": "object"})}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/symbols/{path}": {"get": {
            "summary": "A debug file from the configured sources, by symstore path",
            "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": _FILE_RESPONSES}},
        "/buildid/{build_id}/{what}": {"get": {
            "summary": "A debug file by build id (the debuginfod protocol)",
            "parameters": [{"name": "build_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "what", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": ["debuginfo", "executable"]}}],
            "responses": _FILE_RESPONSES}},
    }
    if minidump:
        paths["/minidump"] = {"post": {
            "summary": "Symbolicate a minidump",
            "parameters": [_TIMEOUT],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["upload_file_minidump"],
                "properties": {"upload_file_minidump": {"type": "string", "format": "binary"},
                               "sources": MINIDUMP_SOURCES}},
                "encoding": {"sources": {"contentType": "application/json"}}}}},
            "responses": _SYM_RESPONSES}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "pysym serve", "version": __version__},
        "paths": paths,
        "components": {"schemas": components(source_ids)},
    }
