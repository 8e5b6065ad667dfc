"""The OpenAPI 3.0 document served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any, Dict

from .._version import __version__

__all__ = ["openapi_document"]

_FAILED = {"$ref": "#/components/schemas/Failed"}


def _json(schema: Any) -> Dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _resp(desc: str, schema: Any = _FAILED) -> Dict[str, Any]:
    return {"description": desc, "content": _json(schema)}


_TIMEOUT = {"name": "timeout", "in": "query", "required": False,
            "description": "seconds to wait for the result before answering 'pending'",
            "schema": {"type": "number", "minimum": 0, "maximum": 86400}}

_SOURCE = {
    "oneOf": [
        {"type": "string", "description": "the id of a configured source"},
        {"type": "object", "required": ["id", "type", "url"], "properties": {
            "id": {"type": "string"}, "type": {"type": "string", "enum": ["http"]}, "url": {"type": "string"},
            "layout": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {
                "type": {"type": "string"}, "casing": {"type": "string"}}}]},
            "casing": {"type": "string"}, "filters": {"type": "object"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "redirect_hosts": {"type": "array", "items": {"type": "string"}}}},
    ]
}

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


def openapi_document(minidump: bool = False) -> Dict[str, Any]:
    paths: Dict[str, Any] = {
        "/symbolicate": {"post": {
            "summary": "Symbolicate a native crash (Symbolicator's request shape)",
            "parameters": [_TIMEOUT],
            "requestBody": {"required": True, "content": _json({
                "type": "object",
                "properties": {
                    "stacktraces": {"type": "array", "items": {"type": "object"}},
                    "modules": {"type": "array", "items": {"type": "object"}},
                    "options": {"type": "object"},
                    "sources": {"type": "array", "items": _SOURCE},
                }})},
            "responses": _SYM_RESPONSES}},
        "/symbolicate-js": {"post": {
            "summary": "Map JavaScript frames through source maps found by debug id",
            "parameters": [_TIMEOUT],
            "requestBody": {"required": True, "content": _json({
                "type": "object",
                "properties": {
                    "stacktraces": {"type": "array", "items": {"type": "object"}},
                    "modules": {"type": "array", "items": {"type": "object"}},
                    "sources": {"type": "array", "items": {"type": "string"}},
                }})},
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
            "responses": {"200": {"description": "the file", "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}, "404": _resp("not found")}}},
        "/buildid/{build_id}/{what}": {"get": {
            "summary": "A debug file by build id (the debuginfod protocol)",
            "parameters": [{"name": "build_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "what", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": ["debuginfo", "executable"]}}],
            "responses": {"200": {"description": "the file", "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}, "404": _resp("not found")}}},
    }
    if minidump:
        paths["/minidump"] = {"post": {
            "summary": "Symbolicate a minidump",
            "parameters": [_TIMEOUT],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["upload_file_minidump"],
                "properties": {"upload_file_minidump": {"type": "string", "format": "binary"},
                               "sources": {"type": "string", "description": "JSON list of sources"}}}}}},
            "responses": _SYM_RESPONSES}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "pysym serve", "version": __version__},
        "paths": paths,
        "components": {"schemas": {
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
        }},
    }
