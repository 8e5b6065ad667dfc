"""sourceMappingURL / debugId extraction (ECMA-426 "without parsing") and data URLs."""

from __future__ import annotations

import base64
import json
import os
from typing import Optional

import pytest

import pysym
from pysym import InvalidInputError, decode_data_url, find_debug_id, find_sourcemap_url

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


@pytest.mark.parametrize(
    "js,url",
    [
        ("a();\n//# sourceMappingURL=a.js.map\n", "a.js.map"),
        ("a();\n//# sourceMappingURL=a.js.map", "a.js.map"),
        ("a();\r\n//# sourceMappingURL=a.js.map\r\n", "a.js.map"),
        ("a();\n//@ sourceMappingURL=legacy.map\n", "legacy.map"),
        ("a();\n/*# sourceMappingURL=block.map */\n", "block.map"),
        ("a();\n//#sourceMappingURL=nospace.map\n", "nospace.map"),
        ("a();\n//#  \tsourceMappingURL=tabs.map   \n", "tabs.map"),
        ("a(); //# sourceMappingURL=same-line.map", "same-line.map"),
        # the last annotation wins; comments and blank lines after it are fine
        (
            "//# sourceMappingURL=first.map\n//# sourceMappingURL=second.map\n// trailing\n\n  \n",
            "second.map",
        ),
        ("a();\n//# sourceMappingURL=a.map\n/* license */\n", "a.map"),
        ("a();\n//# sourceMappingURL=a.map\n/* unclosed\n", "a.map"),
        (
            "a();\n//# sourceMappingURL=https://cdn.example.com/a.js.map?v=1\n",
            "https://cdn.example.com/a.js.map?v=1",
        ),
        (
            "a();\n//# sourceMappingURL=data:application/json;base64,e30=\n",
            "data:application/json;base64,e30=",
        ),
        ("a();\n//# sourceMappingURL=\n", ""),
        # line terminators of ECMAScript: U+2028 and U+2029 separate lines too
        ("a();\u2028//# sourceMappingURL=ls.map", "ls.map"),
        # a BOM/ZWNBSP and other Unicode spaces are whitespace, not code
        ("a();\n\ufeff\u00a0//# sourceMappingURL=ws.map\n", "ws.map"),
    ],
)
def test_found(js: str, url: str) -> None:
    assert find_sourcemap_url(js) == url
    assert find_sourcemap_url(js.encode("utf-8")) == url


@pytest.mark.parametrize(
    "js",
    [
        "",
        "a();\n",
        "a();\n//# sourceMappingURL=a.map\nb();\n",  # code after the annotation
        "a();\n//# sourceMappingURL=a.map\n/* x */ b();\n",
        "a();\n//# sourceMappingURL=a.map\n/x/.test(s)\n",  # a slash that opens no comment is code
        "a();\n//# sourceMappingURL=a b.map\n",  # \S*? then \s*$: no spaces inside
        "a();\n// # sourceMappingURL=a.map\n",  # the [@#] must come first
        "a();\n//# sourceMappingUrl=a.map\n",  # case-sensitive name
        "var s = 'sourceMappingURL=x.map';\n",
        "a();\n//# sourceMappingURL=a.map\n/",  # a lone slash at the end is code
    ],
)
def test_not_found(js: str) -> None:
    assert find_sourcemap_url(js) is None


def test_spec_example_without_parsing() -> None:
    # ECMA-426's example of code that does not link unambiguously: the "without parsing"
    # method (the one implemented) finds the URL inside the template literal.
    js = "let a = `\n//# sourceMappingURL=foo.js.map\n//`"
    assert find_sourcemap_url(js) == "foo.js.map"


def test_bundled_example() -> None:
    with open(os.path.join(EXAMPLES, "app.min.js"), "rb") as f:
        assert find_sourcemap_url(f.read()) == "app.min.js.map"


def test_large_file_is_scanned_from_the_end() -> None:
    js = "x();\n" * 200000 + "//# sourceMappingURL=big.map\n"
    assert find_sourcemap_url(js) == "big.map"


DID = "85314830-023F-4cf1-a267-535f4e37bb17"


@pytest.mark.parametrize(
    "js,expected",
    [
        ("a();\n//# debugId=%s\n//# sourceMappingURL=a.map\n" % DID, DID.lower()),
        ("a();\n//# debugId=%s" % DID, DID.lower()),
        ("a();\n//# debugId=%s\n\n\n" % DID, DID.lower()),
        ("//# debugId=%s\n1\n2\n3\n4\n5\n" % DID, None),  # not among the last 5 lines
        ("a();\n//# debugId=not-a-uuid\n", None),
        ("a();\n//# debugId=85314830023f4cf1a267535f4e37bb17\n", None),
        ("a(); //# debugId=%s\n" % DID, None),  # must be a line of its own
        ("a();\n", None),
    ],
)
def test_debug_id(js: str, expected: Optional[str]) -> None:
    assert find_debug_id(js) == expected
    assert find_debug_id(js.encode()) == expected


MAP = {"version": 3, "sources": ["a.js"], "names": [], "mappings": "AAAA"}


def test_data_url_base64() -> None:
    raw = json.dumps(MAP).encode()
    b64 = base64.b64encode(raw).decode()
    assert decode_data_url("data:application/json;base64," + b64) == raw
    assert decode_data_url("data:application/json;charset=utf-8;base64," + b64) == raw
    assert decode_data_url("DATA:application/json;BASE64," + b64) == raw
    # forgiving base64: padding may be missing, ASCII whitespace is ignored
    assert decode_data_url("data:application/json;base64," + b64.rstrip("=")) == raw
    assert decode_data_url("data:application/json;base64," + b64[:8] + "\n " + b64[8:]) == raw
    assert decode_data_url("data:;base64,aGk=") == b"hi"


def test_data_url_percent_encoded() -> None:
    assert decode_data_url("data:application/json,%7B%22version%22%3A3%7D") == b'{"version":3}'
    assert decode_data_url('data:application/json,{"a":"%C3%A9"}') == '{"a":"é"}'.encode()
    assert decode_data_url("data:,plain") == b"plain"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.map",
        "data:application/json;base64",  # no comma
        "data:application/json;base64,e30",  # 3 chars + no padding is fine... see below
        "data:application/json;base64,e",  # one char: invalid length
        "data:application/json;base64,e3$=",  # bad alphabet
        "data:application/json;base64,e30===",
    ],
)
def test_data_url_errors(url: str) -> None:
    if url.endswith(",e30"):
        assert decode_data_url(url) == b"{}"
        return
    with pytest.raises(InvalidInputError):
        decode_data_url(url)
    with pytest.raises(pysym.PysymError):
        decode_data_url(url)
