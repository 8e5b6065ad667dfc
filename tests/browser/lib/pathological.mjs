// A pathological input for the worker-timeout tests: a map whose single generated line
// holds millions of segments, so that parsing and the first lookup on that line take
// far longer than a tiny timeout.
export function pathologicalMap(segments = 3_000_000) {
  return JSON.stringify({ version: 3, sources: ["a.js"], names: [], mappings: "AAAA," + Array(segments).fill("CAAC").join(",") });
}

/**
 * The slowest minidump found for the walker's budgets (worker-timeout tests): Linux x86_64,
 * `threads` threads (65536 is the parser's limit) that all share one context and one stack,
 * the stack a frame-pointer chain of `frames` frames into one module, so the walk goes to
 * its limits (256 frames a thread, 65536 frames in all) and every thread is answered with
 * its registers. Small on disk (~3 MiB for 65536 threads): the threads share their data.
 */
export function hostileDump({ threads = 65536, frames = 256 } = {}) {
  const BASE = 0x400000n; // the module: 1 MiB of "code"
  const STACK = 0x7ff000000000n;
  const stackSize = frames * 16 + 16;
  const name = "/hostile/libloop.so";
  const nameBytes = 4 + 2 * name.length + 2;
  // layout: header 32 | 3 stream entries 36 | system info 56 | module list 4+108 | name | context 1232 | stack | threads
  const at = { dir: 32, sys: 68, mods: 124 };
  at.name = at.mods + 4 + 108;
  at.ctx = (at.name + nameBytes + 15) & ~15;
  at.stack = at.ctx + 1232;
  at.threads = at.stack + stackSize;
  const size = at.threads + 4 + 48 * threads;
  const buf = new ArrayBuffer(size);
  const v = new DataView(buf);
  const u32 = (o, x) => v.setUint32(o, x, true);
  const u64 = (o, x) => v.setBigUint64(o, BigInt(x), true);
  u32(0, 0x504d444d); // "MDMP"
  u32(4, 0xa793);
  u32(8, 3);
  u32(12, at.dir);
  const stream = (i, type, len, rva) => { u32(at.dir + 12 * i, type); u32(at.dir + 12 * i + 4, len); u32(at.dir + 12 * i + 8, rva); };
  stream(0, 7, 56, at.sys); // SystemInfo: AMD64, Linux
  v.setUint16(at.sys, 9, true);
  u32(at.sys + 20, 0x8201);
  stream(1, 4, 4 + 108, at.mods); // ModuleList: one module
  u32(at.mods, 1);
  u64(at.mods + 4, BASE);
  u32(at.mods + 4 + 8, 0x100000);
  u32(at.mods + 4 + 20, at.name);
  u32(at.name, 2 * name.length);
  for (let i = 0; i < name.length; i++) v.setUint16(at.name + 4 + 2 * i, name.charCodeAt(i), true);
  // the context: rip and rsp/rbp at the stack's start
  u32(at.ctx + 48, 0x00100007);
  u64(at.ctx + 248, BASE + 0x1000n); // rip
  u64(at.ctx + 152, STACK); // rsp
  u64(at.ctx + 160, STACK); // rbp
  // the stack: [saved rbp -> next pair, return address] pairs, ascending
  for (let f = 0; f < frames; f++) {
    u64(at.stack + 16 * f, STACK + BigInt(16 * (f + 1)));
    u64(at.stack + 16 * f + 8, BASE + 0x1000n + BigInt(16 * f + 5));
  }
  stream(2, 3, 4 + 48 * threads, at.threads); // ThreadList: every thread the same data
  u32(at.threads, threads);
  for (let t = 0; t < threads; t++) {
    const o = at.threads + 4 + 48 * t;
    u32(o, t + 1);
    u64(o + 24, STACK);
    u32(o + 32, stackSize);
    u32(o + 36, at.stack);
    u32(o + 40, 1232);
    u32(o + 44, at.ctx);
  }
  return new Uint8Array(buf);
}
