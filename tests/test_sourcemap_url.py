"""sourceMappingURL / debugId extraction (ECMA-426 "without parsing") and data URLs."""

from __future__ import annotations

import base64
import json
import os
import random
import re
from typing import Callable, Optional
from urllib.parse import unquote_to_bytes

import pytest
from timing import best_per_call

import pysym
from pysym import InvalidInputError, decode_data_url, find_debug_id, find_sourcemap_url
from pysym._sourcemap_url import find_links

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


# --------------------------------------------------------------------------------------
# The scanning is the module's (wasm/core/src/js/links.rs). Below: the hosts' old Python
# implementation as the reference on random texts (whitespace made ECMAScript's, the one
# deliberate change), the same answers from the browser host, and hostile inputs.

_ES_SPACE = "\t\x0b\x0c\ufeff \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
_ES_S = "[%s\n\r\u2028\u2029]" % _ES_SPACE
_OLD_LINES = re.compile("\r\n|[\n\r\u2028\u2029]")
_OLD_PATTERN = re.compile(r"[@#]%s*sourceMappingURL=((?:(?!%s).)*?)%s*\Z" % (_ES_S, _ES_S, _ES_S), re.S)
_OLD_DEBUG_ID = re.compile(r"//# debugId=([0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})\Z")


def _old_scan_line(line: str, last: object) -> object:
    pos, n = 0, len(line)
    while pos < n:
        first = line[pos]
        pos += 1
        if first == "/" and pos < n:
            second = line[pos]
            pos += 1
            if second == "/":
                m = _OLD_PATTERN.match(line[pos:])
                last = m.group(1) if m else last
                pos = n
            elif second == "*":
                end = line.find("*/", pos)
                if end < 0:
                    pos = n
                else:
                    m = _OLD_PATTERN.match(line[pos:end])
                    last = m.group(1) if m else last
                    pos = end + 2
            else:
                last = None
        elif first not in _ES_SPACE:
            last = None
    return last


def _old_url(text: str) -> Optional[str]:
    keep = object()
    for line in reversed(_OLD_LINES.split(text)):
        effect = _old_scan_line(line, keep)
        if effect is not keep:
            return effect  # type: ignore[return-value]
    return None


def _old_debug_id(text: str) -> Optional[str]:
    strip = _ES_SPACE + "\n\r\u2028\u2029"
    lines = _OLD_LINES.split(text)
    while lines and not lines[-1].strip(strip):
        lines.pop()
    for line in reversed(lines[-5:]):
        m = _OLD_DEBUG_ID.match(line.strip(strip))
        if m:
            return m.group(1).lower()
    return None


_PIECES = [
    "//", "/*", "*/", "/", "*", "#", "@", " sourceMappingURL=", "sourceMappingURL=", "a.map", "x",
    "//# sourceMappingURL=", "//@ sourceMappingURL=", "/*# sourceMappingURL=", "//# debugId=",
    DID, DID.lower(), "-0", " ", "\t", "\u00a0", "\ufeff", "\u3000", "\x85", "\x1c", "\n", "\r",
    "\r\n", "\u2028", "\u2029", "é", "\U0001f600", "\ud800", "=", "a();", "`", "'",
]


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randrange(0, 24)))


def test_same_as_the_old_scanner_on_random_texts() -> None:
    rng = random.Random(20)
    for _ in range(1500):
        js = _random_text(rng)
        assert (find_sourcemap_url(js), find_debug_id(js)) == (_old_url(js), _old_debug_id(js)), repr(js)
        raw = js.encode("utf-8", "surrogatepass")  # (a lone surrogate: 3 bytes not UTF-8)
        text = raw.decode("utf-8", "replace")
        assert find_links(raw) == (_old_url(text), _old_debug_id(text)), repr(raw)


def test_bytes_that_are_not_utf8() -> None:
    rng = random.Random(21)
    for _ in range(500):
        raw = bytearray(_random_text(rng).encode("utf-8", "surrogatepass"))
        for _ in range(rng.randrange(4)):
            raw.insert(rng.randrange(len(raw) + 1), rng.choice([0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF, 0xED]))
        text = bytes(raw).decode("utf-8", "replace")
        assert find_links(raw) == (_old_url(text), _old_debug_id(text)), repr(raw)


def test_offsets_cut_python_strings() -> None:
    # astral characters and lone surrogates before and inside the URL
    js = "\U0001f600\ud800;\n//# sourceMappingURL=\U0001f600\ud800.map\n//# debugId=%s" % DID
    assert find_links(js) == ("\U0001f600\ud800.map", DID.lower())
    assert find_sourcemap_url(memoryview(b"//# sourceMappingURL=caf\xc3\xa9.map")) == "caf\u00e9.map"


def test_whitespace_is_ecmascript_s() -> None:
    # U+0085 and U+001C were whitespace to the old Python scanner (Python's \s), not to
    # ECMAScript or the browser host; U+FEFF the other way round
    assert find_sourcemap_url("//# sourceMappingURL=a.map\x85") == "a.map\x85"
    assert find_sourcemap_url("//# sourceMappingURL=a.map\n\x1c") is None
    assert find_sourcemap_url("//# sourceMappingURL=a.map\ufeff") == "a.map"
    assert find_debug_id("\ufeff//# debugId=%s\ufeff" % DID) == DID.lower()


def _old_decode_data_url(url: str) -> bytes:
    stripped = url.strip(" \t\n\x0c\r")
    if stripped[:5].lower() != "data:":
        raise InvalidInputError("not a data: URL")
    rest = stripped[5:].split("#", 1)[0]
    if "," not in rest:
        raise InvalidInputError("no comma")
    mime, body_text = rest.split(",", 1)
    body = unquote_to_bytes(body_text)
    if not re.search(r";[ \t]*base64[ \t]*\Z", mime.strip(" \t\n\x0c\r"), re.I | re.A):
        return body
    data = re.sub(rb"[\t\n\x0c\r ]", b"", body)
    if len(data) % 4 == 0:
        data = data[:-2] if data.endswith(b"==") else data[:-1] if data.endswith(b"=") else data
    if len(data) % 4 == 1 or not re.match(rb"[A-Za-z0-9+/]*\Z", data):
        raise InvalidInputError("bad base64")
    return base64.b64decode(data + b"=" * (-len(data) % 4))


def _random_data_url(rng: random.Random) -> str:
    payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
    b64 = base64.b64encode(payload).decode()
    kind = rng.randrange(6)
    if kind == 0:
        body = b64.rstrip("=") if rng.random() < 0.5 else b64
    elif kind == 1:
        cut = rng.randrange(len(b64) + 1)
        body = b64[:cut] + rng.choice([" ", "\n", "\t", "=", "$", "%3D", "%41", "#x"]) + b64[cut:]
    elif kind == 2:
        body = "".join("%%%02x" % b if rng.random() < 0.5 else chr(b) for b in payload if 32 < b < 127)
    else:
        body = "".join(rng.choice("AZaz09+/=% \n#,é") for _ in range(rng.randrange(12)))
    mime = rng.choice(["application/json", "", "text/plain;charset=utf-8", " x ", "a,b"])
    tail = rng.choice([";base64", ";BASE64", "; base64 ", ";base64x", "", ";charset=x;base64"])
    head = rng.choice(["data:", "DATA:", " data:", "date:", "data"])
    return head + mime + tail + "," + body


def test_data_urls_same_as_the_old_decoder() -> None:
    rng = random.Random(22)
    for _ in range(1500):
        url = _random_data_url(rng)
        try:
            want = _old_decode_data_url(url)  # type: Optional[bytes]
        except InvalidInputError:
            want = None
        if want is None:
            with pytest.raises(InvalidInputError):
                decode_data_url(url)
        else:
            assert decode_data_url(url) == want, repr(url)
    with pytest.raises(InvalidInputError):
        decode_data_url("data:,\ud800")  # a lone surrogate: not UTF-8


def test_hostile_inputs() -> None:
    # one 4 MB line without a newline, 4 MB of binary garbage, 1 M blank lines: answers,
    # never an error (linear time: below, and natively on 8 MB inputs, links/tests.rs)
    big = "x" * (4 << 20)
    assert find_links(big + "//# sourceMappingURL=big.map") == ("big.map", None)
    assert find_links(big) == (None, None)
    garbage = random.Random(23).randbytes(4 << 20)
    url, debug_id = find_links(garbage)
    assert url is None or isinstance(url, str)
    assert debug_id is None
    assert find_links("//# debugId=%s" % DID + "\n" * (1 << 20)) == (None, DID.lower())
    assert find_links("/*" * (1 << 20) + "\n//# sourceMappingURL=a.map") == ("a.map", None)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "x" * n,
        lambda n: "/*" * (n // 2),
        lambda n: "\n" * n + "//# sourceMappingURL=a.map",
    ],
    ids=["code", "comment openers", "blank lines"],
)
def test_linear_time(make: Callable[[int], str]) -> None:
    # a ratio per character (2 MB against 32 KB), never a wall clock
    small, big = make(32 << 10), make(2 << 20)
    per_char = ((best_per_call(lambda: find_links(big), 1) / len(big))
                / (best_per_call(lambda: find_links(small), 20) / len(small)))
    assert per_char < 25, per_char


_NODE_SCRIPT = r"""
import { readFileSync } from "node:fs";
import { init } from "./browser/runtime.js";
import { decodeDataUrl, findLinks } from "./browser/sourcemap-url.js";
await init();
const cases = JSON.parse(readFileSync(process.argv[1], "utf8"));
const out = { texts: [], bytes: [], urls: [] };
for (const js of cases.texts) out.texts.push(findLinks(js));
for (const b64 of cases.bytes) out.bytes.push(findLinks(new Uint8Array(Buffer.from(b64, "base64"))));
for (const url of cases.urls) {
  try {
    out.urls.push(Buffer.from(decodeDataUrl(url)).toString("base64"));
  } catch (e) {
    out.urls.push(e.name);
  }
}
process.stdout.write(JSON.stringify(out));
"""


def test_browser_host_gives_the_same_answers(tmp_path: "os.PathLike[str]") -> None:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (tools/provision.sh node), needed for the browser host")
    rng = random.Random(24)
    texts = [_random_text(rng) for _ in range(800)]
    texts.append("\U0001f600\ud800;\n//# sourceMappingURL=\U0001f600\ud800.map\n//# debugId=%s" % DID)
    raws = [t.encode("utf-8", "surrogatepass") for t in texts[:300]] + [b"\xef\xbb\xbf//# sourceMappingURL=\xff.map"]
    urls = [_random_data_url(rng) for _ in range(800)]
    path = os.path.join(str(tmp_path), "cases.json")
    with open(path, "w") as f:
        json.dump({"texts": texts, "bytes": [base64.b64encode(r).decode() for r in raws], "urls": urls}, f)
    root = os.path.join(os.path.dirname(__file__), os.pardir)
    proc = subprocess.run([node, "--input-type=module", "-e", _NODE_SCRIPT, path], cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    got = json.loads(proc.stdout)
    assert [tuple(x) for x in got["texts"]] == [find_links(t) for t in texts]
    assert [tuple(x) for x in got["bytes"]] == [find_links(r) for r in raws]
    want = []
    for url in urls:
        try:
            want.append(base64.b64encode(decode_data_url(url)).decode())
        except InvalidInputError:
            want.append("InvalidInputError")
    assert got["urls"] == want
