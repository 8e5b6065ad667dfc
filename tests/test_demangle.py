"""The C++ demangler in the wasm module, compared with ``llvm-cxxfilt-14``.

Names go into a Breakpad FUNC record and are demangled when a lookup names them (symcache
format 4 stores them mangled; the Python API has no demangle call). Corpus: the fuzz corpus, names of C++ compiled here
(Apple blocks with ``clang++ -fblocks``, deeply nested templates with ``g++``) and the
dynamic symbols of the system's libstdc++. ``python tests/test_demangle.py [LIB...]``
prints the agreement table (identical / differing by class / not demangled), also for
other libraries.

Documented formatting classes (``classify``): special names (``vtable for``, thunks,
guard variables, where they still differ), spacing (``R (A)`` vs ``R(A)``),
``decltype`` and expressions, literals, ``std::string``-style abbreviations, unnamed types
and lambdas, ABI tags, and array references in parameter packs (``char const (&) [6]&&``).
Names LLVM demangles to more than ``MAX_DEMANGLED`` bytes (256 KiB) stay mangled, and so
do names nested deeper than ``MAX_DEPTH`` (512 productions: about 80 levels of class
templates in namespaces, ``boost::fusion::cons<..., cons<...>>``), counted as such when
their template arguments nest 64 deep or more.
"""

from __future__ import annotations

import collections
import os
import re
import resource
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

import pysym

CXXFILT = shutil.which("llvm-cxxfilt-14") or shutil.which("llvm-cxxfilt")
HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "wasm", "fuzz", "corpus", "demangle")
MAX_DEMANGLED = 256 * 1024

BLOCKS_CPP = r"""
typedef void (^blk)(void);
extern "C" void run(blk);
struct dispatch_queue_s;
namespace net { struct URLConnectionClient {
  void cancel(dispatch_queue_s*, void (^)(void)); template <class T> void each(T t); }; }
void net::URLConnectionClient::cancel(dispatch_queue_s* q, void (^done)(void)) {
  run(^{ run(^{ done(); }); });
  run(^{ run(done); });
}
template <class T> void net::URLConnectionClient::each(T t) { run(^{ (void)t; }); }
template void net::URLConnectionClient::each<int>(int);
template void net::URLConnectionClient::each<long*>(long*);
static void helper(int x) { run(^{ (void)x; }); }
void (*use)(int) = helper;
"""

# Boost.Proto/Spirit-like expression templates: names of 150-1,600 bytes.
DEEP_CPP = r"""
#include <map>
#include <string>
#include <tuple>
#include <vector>
namespace boost { namespace proto { namespace exprns_ {
template <class Tag, class Args, long N> struct expr { Args a; }; }
namespace tag { struct terminal {}; struct shift_right {}; struct multiplies {}; }
namespace argsns_ { template <class T> struct term { T t; }; template <class A, class B> struct list2 { A a; B b; }; } }
namespace spirit { namespace qi {
template <class S, class A> struct rule {};
template <class P> struct kleene { P p; };
template <class A, class B> struct sequence { A a; B b; };
template <class A, class B> struct alternative { A a; B b; };
template <class T> struct action { T t; }; } }
namespace fusion { template <class L, class R> struct cons { L l; R r; }; struct nil_ {}; } }
using namespace boost;
template <class T> using T1 = proto::exprns_::expr<proto::tag::terminal, proto::argsns_::term<T>, 0>;
template <class A, class B> using P2 = proto::exprns_::expr<proto::tag::shift_right, proto::argsns_::list2<A, B>, 2>;
template <class A, class B> using M2 = proto::exprns_::expr<proto::tag::multiplies, proto::argsns_::list2<A, B>, 2>;
template <class E> __attribute__((noinline)) int eval(const E&) { return sizeof(E); }
template <int N> struct deep { using type = spirit::qi::sequence<typename deep<N-1>::type,
  spirit::qi::kleene<spirit::qi::action<typename deep<N-1>::type*>>>; };
template <> struct deep<0> { using type = int; };
template <int N> struct lin { using type = fusion::cons<spirit::qi::alternative<int, long>, typename lin<N-1>::type>; };
template <> struct lin<0> { using type = fusion::nil_; };
template <int N> struct nest { using type = std::vector<typename nest<N-1>::type>; };
template <> struct nest<0> { using type = std::string; };
int main() {
  using A = T1<char const*>;
  using B = P2<P2<P2<A, M2<T1<int>, A>>, T1<spirit::qi::rule<char const*, int(std::string)>>>, M2<A, P2<A, A>>>;
  using C = P2<P2<B, B>, P2<M2<B, A>, T1<std::map<std::string, std::vector<std::pair<int, std::string>>>>>>;
  return eval(A{}) + eval(B{}) + eval(C{}) + eval(typename deep<2>::type{}) + eval(typename deep<4>::type{})
    + eval(typename lin<10>::type{}) + eval(typename lin<40>::type{}) + eval(typename lin<90>::type{})
    + eval(typename nest<6>::type{}) + eval(typename nest<12>::type{});
}
"""


# Multiple and virtual inheritance, thread_local, a reference temporary: the special
# names (vtables, VTTs, construction vtables, thunks, TLS routines) g++ writes for them.
SPECIAL_CPP = r"""
struct A { virtual int f(); virtual ~A(); int a; };
struct B { virtual int g(); virtual ~B(); int b; };
struct C : A, B { int g() override; ~C() override; };
int A::f() { return 1; } A::~A() {} int B::g() { return 2; } B::~B() {} int C::g() { return 3; } C::~C() {}
struct V { virtual int v(); int x; }; int V::v() { return 0; }
struct D : virtual V { int v() override; D(); }; D::D() {} int D::v() { return 1; }
struct E : virtual V, D { int v() override; E(); }; E::E() {} int E::v() { return 2; }
struct R { virtual B* r(); }; struct S : A, R { C* r() override; };
B* R::r() { return nullptr; } C* S::r() { return nullptr; }
int init(); thread_local int tl = init(); int use_tl() { return tl; }
extern thread_local int etl; int use_etl() { return etl; }
const int& ref = init();
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def llvm_demangle(names: Sequence[str]) -> List[Optional[str]]:
    """llvm-cxxfilt's output per name; None where it crashed or ran out of time or memory
    (it does on hostile names: 19 GB for some fuzz inputs, hence the limits)."""
    assert CXXFILT
    out: List[Optional[str]] = []
    for i in range(0, len(names), 4000):
        out += _cxxfilt(list(names[i:i + 4000]))
    return out


def _cxxfilt(names: List[str]) -> List[Optional[str]]:
    try:
        p = subprocess.run([CXXFILT], input="\n".join(names) + "\n", capture_output=True, text=True,
                           timeout=60, preexec_fn=_limit)
        lines = p.stdout.split("\n")[:-1]
        if p.returncode == 0 and len(lines) == len(names):
            return list(lines)
    except subprocess.TimeoutExpired:
        pass
    if len(names) == 1:
        return [None]
    h = len(names) // 2
    return _cxxfilt(names[:h]) + _cxxfilt(names[h:])


def pysym_demangle(names: Sequence[str]) -> List[str]:
    """The module's demangling of each name (one Breakpad file, one FUNC per name)."""
    body = "".join("FUNC %x 10 0 %s\n" % (0x1000 + 16 * i, n) for i, n in enumerate(names))
    sym = ("MODULE Linux x86_64 000000000000000000000000000000000 demangle\n" + body).encode()
    sc = pysym.SymCache.from_object(sym)
    frames = sc.lookup_many([0x1000 + 16 * i for i in range(len(names))])
    return [f[0].function for f in frames]


SPECIAL = ("vtable for ", "typeinfo for ", "typeinfo name for ", "VTT for ", "construction vtable for ",
           "guard variable for ", "reference temporary ", "virtual thunk to ", "non-virtual thunk to ",
           "covariant return thunk to ", "thread-local wrapper routine for ",
           "thread-local initialization routine for ", "transaction clone for ")
STD_ABBREV = re.compile(r"std::(string|istream|ostream|iostream)\b|std::basic_(string|istream|ostream|iostream)<char")


# Differences in no formatting class: cpp_demangle defects not fixed yet, each seen in
# the corpus (the fuzz corpus or libstdc++), named so that a new one fails the test.
KNOWN_DEFECTS = {
    # A pack expansion whose pattern nests the pack inside a template argument
    # (`Dp N...I...T_...E...E`): LLVM prints the pattern once per element; cpp_demangle
    # expands the pack where it stands (in the innermost argument list), because its
    # printer streams and cannot print the pattern first to learn the pack's length.
    "_ZSt10make_tupleIJiNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEdcEESt5tupleIJDpNSt25__strip_"
    "reference_wrapperINSt5decayIT_E4typeEE6__typeEEEDpOS9_": "pack expansion in nested argument",
}


def classify(llvm: str, mine: str) -> str:
    """The documented class of a difference, or ``other``."""
    if llvm.startswith(SPECIAL):
        return "special name"
    if "decltype" in llvm or "decltype" in mine or re.search(r"\(\w[\w:]*\)-?\d", llvm):
        return "expression/literal"
    if re.sub(r"\s+", "", llvm.replace(" (", "(")) == re.sub(r"\s+", "", mine.replace(" (", "(")):
        return "spacing"
    if STD_ABBREV.search(llvm) or STD_ABBREV.search(mine):
        return "std abbreviation"
    if "'unnamed" in llvm or "'lambda" in llvm or "{unnamed" in mine:
        return "unnamed/lambda"
    if "[abi:" in llvm:
        return "abi tag"
    if re.search(r"\) \[\d*\]&&", mine):
        return "array reference in pack"
    return "other"


def nesting(text: str) -> int:
    """How deep template arguments nest in demangled text."""
    depth = top = 0
    for c in text:
        depth += c == "<"
        depth -= c == ">"
        top = max(top, depth)
    return top


def compare(names: Sequence[str]) -> Tuple[Dict[str, int], List[Tuple[str, str, str]]]:
    """Counts per outcome, and the names in no documented class."""
    names = sorted({n for n in names if n and not any(c.isspace() for c in n)})
    ref = llvm_demangle(names)
    got = pysym_demangle(names)
    counts: Dict[str, int] = collections.Counter()
    other = []
    for n, r, g in zip(names, ref, got):
        if r is None or r == n:
            counts["not demangled by llvm"] += 1
        elif g == r:
            counts["identical"] += 1
        elif g == n:
            if len(r) > MAX_DEMANGLED:
                why = "not demangled: longer than MAX_DEMANGLED"
            elif nesting(r) >= 64:
                why = "not demangled: deeper than MAX_DEPTH"
            else:
                why = "not demangled"
                other.append((n, r, g))
            counts[why] += 1
        else:
            c = classify(r, g)
            counts["differs: " + c] += 1
            if c == "other":
                other.append((n, r, g))
    return dict(counts), other


def fuzz_names() -> List[str]:
    out = []
    for f in sorted(os.listdir(FUZZ)):
        data = open(os.path.join(FUZZ, f), "rb").read()[1:]  # language byte
        out.append(data.decode("utf-8", "replace").split("\n")[0].rstrip("\r"))
    return out


def symbols(path: str, dynamic: bool = False) -> List[str]:
    cmd = ["nm", "-D" if dynamic else "-a", "--defined-only", path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()]


def compiled_names(tmp: str) -> List[str]:
    out = []
    src = os.path.join(tmp, "deep.cpp")
    open(src, "w").write(DEEP_CPP)
    subprocess.run(["g++", "-std=c++17", "-O1", "-c", src, "-o", src + ".o"], check=True)
    out += symbols(src + ".o")
    clang = shutil.which("clang++-14") or shutil.which("clang++")
    if clang:
        src = os.path.join(tmp, "blocks.cpp")
        open(src, "w").write(BLOCKS_CPP)
        subprocess.run([clang, "-fblocks", "-O1", "-c", src, "-o", src + ".o"], check=True)
        blocks = [n for n in symbols(src + ".o") if "_block_invoke" in n]
        assert len(blocks) >= 6
        out += blocks + ["_" + n for n in blocks]  # Mach-O symbols carry one more underscore
    return out


def libstdcxx() -> Optional[str]:
    p = subprocess.run(["g++", "-print-file-name=libstdc++.so.6"], capture_output=True, text=True).stdout.strip()
    return p if os.path.isabs(p) and os.path.exists(p) else None


needs_cxxfilt = pytest.mark.skipif(CXXFILT is None, reason="llvm-cxxfilt-14 is not installed")


@needs_cxxfilt
def test_block_invocations(engine: str) -> None:
    f = "URLConnectionClient::_clientInterface_cancelConnection(dispatch_queue_s*, void () block_pointer)"
    n = ("___ZN19URLConnectionClient33_clientInterface_cancelConnection"
         "EP16dispatch_queue_sU13block_pointerFvvE_block_invoke")
    names = [n + s for s in ("14", "", "_2", ".cold")]
    names += ["___Z1fv_block_invoke_", "___Z1fv_block_invoke_x", "__Z1fv_block_invoke"]
    got = pysym_demangle(names)
    assert got[:4] == ["invocation function for block in " + f] * 4
    assert got[4:] == names[4:]
    assert got == [r if r is not None else n for r, n in zip(llvm_demangle(names), names)]


@needs_cxxfilt
def test_corpus_agrees_with_llvm(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """Every name LLVM demangles: identical, or in a documented class."""
    names = fuzz_names() + compiled_names(str(tmp_path))
    lib = libstdcxx()
    if lib:
        names += symbols(lib, dynamic=True)
    counts, other = compare(names)
    assert counts.get("identical", 0) > 3000, counts
    # the deep Boost-like names and the block invocations demangle
    assert counts.get("not demangled: deeper than MAX_DEPTH", 0) <= 1, counts
    unknown = [o for o in other if o[0] not in KNOWN_DEFECTS]
    assert not unknown, (counts, unknown[:5])


@needs_cxxfilt
def test_special_names_as_llvm(engine: str, tmp_path: "os.PathLike[str]") -> None:
    """vtables, VTTs, construction vtables, thunks, TLS routines of a program built here:
    as llvm-cxxfilt-14 prints them (a libc++ thunk in a macOS wheel printed as
    ``{virtual override thunk({offset(-16)}, ...)}``)."""
    src = os.path.join(str(tmp_path), "special.cpp")
    open(src, "w").write(SPECIAL_CPP)
    subprocess.run(["g++", "-std=c++17", "-O1", "-c", src, "-o", src + ".o"], check=True)
    names = sorted({n for n in symbols(src + ".o") if n.startswith(("_ZT", "_ZGR", "_ZGV"))})
    ref = llvm_demangle(names)
    kinds = ("vtable for ", "VTT for ", "construction vtable for ", "non-virtual thunk to ", "virtual thunk to ",
             "covariant return thunk to ", "thread-local initialization routine for ", "reference temporary for ")
    assert all(any(r and r.startswith(k) for r in ref) for k in kinds), ref
    assert pysym_demangle(names) == ref


def test_hostile_nesting_stays_mangled(engine: str) -> None:
    """Nesting past the depth limit, and names that fail deep inside, stay mangled on both
    engines: no trap (stack) and no exponential time (the parse step limit)."""
    deep = [
        "_Z1fILi1EEvDT" + "pl" * 5000 + "fp_" * 5001 + "E",  # the dearest frames per level
        "_Z1f" + "P" * 20000 + "i",
        "_Z1fI" + "1AI" * 3000 + "i" + "E" * 3001 + "v",
        "_Z1f" + "PF" * 3000 + "v" + "E" * 3000,
        "_Z" + "Z1fvE" * 3000 + "1gv",
        "_Z1f1AI" + "S_I" * 3000 + "i",  # truncated: each level parsed twice on failure
        "_Z1f1AI" + "S_I" * 60 + "i",
        "_Z1f" + "RA1_" * 3000 + "i",
        "_Z1fIiEvDT" + "cl1g" * 3000 + "fp_" + "E" * 3001,
        "___Z1fI" + "1AI" * 3000 + "i" + "E" * 3001 + "v_block_invoke",
    ]
    assert pysym_demangle(deep) == deep
    # ... while nesting within the limit demangles.
    ok = ["_Z1fILi1EEvDT" + "pl" * 400 + "fp_" * 401 + "E", "_Z1f1AI" + "S_I" * 100 + "i" + "E" * 101]
    got = pysym_demangle(ok)
    assert got[0].startswith("void f<1>(decltype (((") and got[1] == "f(A<" + "A<" * 100 + "int>" + " >" * 100 + ")"


def main(argv: List[str]) -> None:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        corpora = {"fuzz corpus": fuzz_names(), "compiled here": compiled_names(tmp)}
    lib = libstdcxx()
    if lib:
        corpora["libstdc++"] = symbols(lib, dynamic=True)
    for path in argv:
        corpora[os.path.basename(path)] = symbols(path, dynamic=True) + symbols(path)
    for name, names in corpora.items():
        counts, other = compare(names)
        print("%s: %s" % (name, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
        for n, r, g in other[:10]:
            print("  %s\n    llvm:  %s\n    pysym: %s" % (n[:150], r[:150], g[:150]))


if __name__ == "__main__":
    main(sys.argv[1:])
