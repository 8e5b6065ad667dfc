"""The stack-trace parser on hostile lines: linear time, bounded line length, and the
same answers as the old (quadratic) patterns on ordinary lines.

Times are compared as ratios (per character, a 1 MB line against a 10 KB one), never
against a wall clock: linear parsing gives ~1-10, the old patterns gave ~100 and more.
"""

from __future__ import annotations

import random
import re
from typing import Callable, Dict, List

import pytest
from timing import best_per_call

import pysym._stacktrace as st
from pysym._stacktrace import (
    MAX_EVAL_DEPTH,
    MAX_FRAME_LINE,
    Frame,
    parse_line,
    parse_stacktrace,
    symbolicate_trace,
)

# The patterns before the fix, as the reference for ordinary-sized lines.
_OLD_V8_AT = re.compile(r"\A(?P<prefix>\s*)at (?P<rest>.*?)\s*\Z")
_OLD_V8_ALIAS = re.compile(r"\A(?P<fn>.*?) \[as (?P<alias>[^\]]*)\]\Z")
_OLD_GECKO = re.compile(
    r"\A(?P<prefix>\s*)"
    r"(?P<fn>(?:[^\s@]|global code|module code|eval code|eval function)*)"
    r"@(?P<loc>\S.*?)\s*\Z"
)

#: hostile lines of about ``n`` characters, one per pattern family
HOSTILE: Dict[str, Callable[[int], str]] = {
    "v8 trailing spaces": lambda n: "at a" + " " * n + "x",
    "v8 tabs and unicode spaces": lambda n: "    at f (a.js:1:2)" + "\t\u2003" * (n // 2) + "x",
    "alias repeated": lambda n: "at f" + " [as g" * (n // 6) + "] (a.js:1:2)",
    "alias brackets": lambda n: "at f" + " [as ]" * (n // 6) + " (a.js:1:2)",
    "gecko trailing spaces": lambda n: "f@a" + " " * n + "x",
    "gecko phrases": lambda n: "global code " * (n // 12) + "@a.js:1:2 x",
    "gecko many ats": lambda n: "f" + "@" * n,
    "location colons": lambda n: "at " + ":1" * (n // 2) + "x",
    "location digits": lambda n: "at a:" + "1" * n + ":x",
    "parens": lambda n: "at f " + "(" * (n // 2) + ")" * (n // 2),
    "nested eval": lambda n: "at f (" + "eval at g (" * (n // 11) + "a.js:1:2" + "), x:1:1" * (n // 11) + ")",
    "eval line gecko": lambda n: "f@a.js" + " line 1" * (n // 7) + " > eval:1:2",
}


@pytest.fixture
def uncapped(monkeypatch: pytest.MonkeyPatch) -> None:
    # the cap would turn 1 MB lines away before any pattern runs: measure the patterns
    monkeypatch.setattr(st, "MAX_FRAME_LINE", 1 << 30)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_parse_line_is_linear_on_hostile_lines(kind: str, uncapped: None) -> None:
    make = HOSTILE[kind]
    small, big = make(10_000), make(1_000_000)
    t_small = best_per_call(lambda: parse_line(small), 20)
    t_big = best_per_call(lambda: parse_line(big), 1)
    per_char = (t_big / len(big)) / (t_small / len(small))
    # linear: ~1 (more for cache effects and a loaded machine); quadratic: ~100 and more
    assert per_char < 25, "%s: %.1fx per character (1 MB vs 10 KB)" % (kind, per_char)


def test_random_lines_are_linear(uncapped: None) -> None:
    rng = random.Random(13)
    pieces = ["at ", " ", "\t", "@", "(", ")", " [as ", "]", ":", "1", "eval at ", ", ",
              "global code", "a", ".js", "async ", "new ", " line 2 > eval"]

    def line(n: int) -> str:
        out: List[str] = []
        size = 0
        while size < n:
            p = rng.choice(pieces)
            out.append(p)
            size += len(p)
        return "".join(out)

    worst = 0.0
    for _ in range(5):
        small = line(10_000)
        big = small * 100  # the same mix of pieces, 1 MB
        for prefix in ("at ", "  at f (", "f@", ""):
            s, b = prefix + small, prefix + big
            t_small = best_per_call(lambda s=s: parse_line(s), 10)  # type: ignore[misc]
            t_big = best_per_call(lambda b=b: parse_line(b), 1)  # type: ignore[misc]
            worst = max(worst, (t_big / len(b)) / (t_small / len(s)))
    # a line that is no frame is turned away after a few scans: copying 1 MB costs more
    # per character than 10 KB (cache); quadratic work would give ~100
    assert worst < 25, "%.1fx per character (1 MB vs 10 KB)" % worst


def test_same_answers_as_the_old_patterns() -> None:
    """The module's parser splits lines as the old (quadratic) patterns did."""
    rng = random.Random(7)
    pieces = ["at ", " ", "  ", "\t", "\u00a0", "\u2028", "@", "(", ")", " [as ", "[as ", "]",
              "[", ":", "1", "42", "eval at ", ", ", "global code", "eval code", "f", "a.js",
              "async ", "new ", "x"]
    lines = []
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        lines += [text, "at " + text, "  at " + text, "f@" + text, text + " "]
    checked = 0
    for line, frame in zip(lines, st.parse_lines(lines)):
        v8, gecko = _OLD_V8_AT.match(line), _OLD_GECKO.match(line)
        if frame is None:
            continue
        if frame.style == "v8":
            assert v8 is not None and v8.group("prefix") == frame.prefix, repr(line)
            rest = v8.group("rest")
            if frame.alias is not None:
                old = _OLD_V8_ALIAS.match(rest.rsplit(" (", 1)[0].replace("async ", "", 1).replace("new ", "", 1))
                assert old is not None and (old.group("fn"), old.group("alias")) == (frame.function or "", frame.alias)
        else:
            # a line that is a V8 frame is never taken for a gecko one
            assert gecko is not None and gecko.group("prefix") == frame.prefix, repr(line)
            fn = ("async*" if frame.is_async else "") + (frame.function or "")
            assert gecko.group("fn") == fn and gecko.group("loc").startswith(frame.url or ""), repr(line)
        checked += 1
    assert checked > 5_000


def test_lines_longer_than_the_cap_are_text() -> None:
    frame = "    at render (https://cdn.example.com/app.min.js:1:%d)"
    at_cap = frame % 7
    at_cap = at_cap.replace("render", "r" * (MAX_FRAME_LINE - len(at_cap) + len("render")))
    assert len(at_cap) == MAX_FRAME_LINE
    parsed = parse_line(at_cap)
    assert isinstance(parsed, Frame) and parsed.col == 7 and parsed.line == 1
    over = at_cap.replace("rr", "rrr", 1)
    assert len(over) == MAX_FRAME_LINE + 1
    assert parse_line(over) is None
    # kept and printed unchanged, and the frames around it are still symbolicated
    text = "Error: boom\n" + over + "\n" + (frame % 3) + "\n"
    lines = parse_stacktrace(text)
    assert lines[1] == over and isinstance(lines[2], Frame)
    seen: List[str] = []

    def resolver(url: str) -> None:
        seen.append(url)
        return None

    assert symbolicate_trace(text, resolver) == text
    assert seen == ["https://cdn.example.com/app.min.js"]


def test_eval_origins_are_followed_to_a_bounded_depth() -> None:
    def nested(depth: int) -> str:
        return "at f (" + "eval at g (" * depth + "a.js:1:2" + "), x:1:1" * depth + ")"

    shallow = parse_line(nested(MAX_EVAL_DEPTH))
    assert shallow is not None
    o = shallow.eval_origin
    levels = 0
    while o is not None and o.eval_origin is not None:
        o, levels = o.eval_origin, levels + 1
    assert o is not None and (o.url, o.line, o.col) == ("a.js", 1, 2)
    assert levels == MAX_EVAL_DEPTH - 1

    deep = parse_line(nested(MAX_EVAL_DEPTH + 5))
    assert deep is not None and deep.eval_origin is not None
    o = deep.eval_origin
    levels = 0
    while o.eval_origin is not None:
        o, levels = o.eval_origin, levels + 1
    # the innermost parsed level keeps the rest as text, with no position to map
    assert levels == MAX_EVAL_DEPTH and not o.has_position
    # 3,000 levels (under the line cap): no RecursionError, no re-scanning per level
    assert len(nested(3000)) < MAX_FRAME_LINE
    assert parse_line(nested(3000)) is not None
