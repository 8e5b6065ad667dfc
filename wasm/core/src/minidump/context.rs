//! Thread contexts (the registers of a thread when the dump was written) for x86, x86_64,
//! arm and arm64, in the layouts of Windows' `CONTEXT` and Breakpad's `MDRawContext*`.
//!
//! The context's flags say which groups of registers were saved: a register is reported
//! only when its group's bit is set and the context's bytes reach it. The integer and
//! control registers are decoded (what a stack walker uses); floating-point and debug
//! state is only checked for presence.

use super::{u16_at, u32_at, u64_at};

/// A CPU family, from `SystemInfo.ProcessorArchitecture` or a context's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpu {
    /// 32-bit x86.
    X86,
    /// x86_64 (AMD64).
    X86_64,
    /// 32-bit ARM.
    Arm,
    /// AArch64.
    Arm64,
    /// 32-bit PowerPC.
    Ppc,
    /// 64-bit PowerPC.
    Ppc64,
    /// 32-bit MIPS.
    Mips,
    /// 64-bit MIPS.
    Mips64,
    /// SPARC.
    Sparc,
    /// 32-bit RISC-V.
    Riscv,
    /// 64-bit RISC-V.
    Riscv64,
    /// Anything else.
    Unknown,
}

impl Cpu {
    /// The CPU named by `ProcessorArchitecture` (Windows values, then Breakpad's).
    pub fn from_architecture(arch: u16) -> Cpu {
        match arch {
            0 => Cpu::X86,
            1 => Cpu::Mips,
            3 => Cpu::Ppc,
            5 => Cpu::Arm,
            9 => Cpu::X86_64,
            10 => Cpu::X86, // x86 on 64-bit Windows
            12 | 0x8003 => Cpu::Arm64,
            0x8001 => Cpu::Sparc,
            0x8002 => Cpu::Ppc64,
            0x8004 => Cpu::Mips64,
            0x8005 => Cpu::Riscv,
            0x8006 => Cpu::Riscv64,
            _ => Cpu::Unknown,
        }
    }

    /// pysym's name for it ("x86_64", "arm64" ...), as `Object.arch` gives.
    pub fn name(self) -> &'static str {
        match self {
            Cpu::X86 => "x86",
            Cpu::X86_64 => "x86_64",
            Cpu::Arm => "arm",
            Cpu::Arm64 => "arm64",
            Cpu::Ppc => "ppc",
            Cpu::Ppc64 => "ppc64",
            Cpu::Mips => "mips",
            Cpu::Mips64 => "mips64",
            Cpu::Sparc => "sparc",
            Cpu::Riscv => "riscv32",
            Cpu::Riscv64 => "riscv64",
            Cpu::Unknown => "unknown",
        }
    }

    /// Whether pointers are 32 bits wide.
    pub fn is_32bit(self) -> bool {
        matches!(
            self,
            Cpu::X86 | Cpu::Arm | Cpu::Ppc | Cpu::Mips | Cpu::Sparc | Cpu::Riscv
        )
    }
}

/// The registers of one thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The CPU family.
    pub cpu: Cpu,
    /// The layout read: "x86", "amd64", "arm", "arm64" or "arm64_old" (Breakpad's).
    pub layout: &'static str,
    /// The context flags as written (64 bits only in "arm64_old").
    pub flags: u64,
    /// The context's size in the file.
    pub size: usize,
    /// The valid registers, in the order debuggers print them.
    pub registers: Vec<(&'static str, u64)>,
}

impl Context {
    /// A register's value, when it is valid.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.registers.iter().find(|r| r.0 == name).map(|r| r.1)
    }

    /// The instruction pointer.
    pub fn pc(&self) -> Option<u64> {
        self.get(match self.cpu {
            Cpu::X86 => "eip",
            Cpu::X86_64 => "rip",
            _ => "pc",
        })
    }

    /// The stack pointer.
    pub fn sp(&self) -> Option<u64> {
        self.get(match self.cpu {
            Cpu::X86 => "esp",
            Cpu::X86_64 => "rsp",
            _ => "sp",
        })
    }

    /// Reads a context of `cpu` (from SystemInfo; `None`: guessed from the flags). The
    /// notes say what was flagged but cut off, or what did not match.
    pub fn parse(b: &[u8], cpu: Option<Cpu>) -> Result<(Context, Vec<String>), String> {
        if b.len() < 4 {
            return Err(format!("context of {} bytes", b.len()));
        }
        let f = u32_at(b, 0);
        let amd64_flags = if b.len() >= 52 { u32_at(b, 48) } else { 0 };
        let by_flags = if f & 0xffff_ff00 == 0x8000_0000 && b.len() >= 8 {
            Some(Layout::Arm64Old)
        } else if f & 0x4000_0000 != 0 || f & 0x0020_0000 != 0 {
            Some(Layout::Arm)
        } else if f & 0x0040_0000 != 0 {
            Some(Layout::Arm64)
        } else if f & 0x0001_0000 != 0 {
            Some(Layout::X86)
        } else if amd64_flags & 0x0010_0000 != 0 {
            Some(Layout::Amd64)
        } else {
            None
        };
        let mut notes = Vec::new();
        let layout = match (cpu, by_flags) {
            (Some(Cpu::X86), _) => Layout::X86,
            (Some(Cpu::X86_64), _) => Layout::Amd64,
            (Some(Cpu::Arm), _) => Layout::Arm,
            (Some(Cpu::Arm64), Some(Layout::Arm64Old)) => Layout::Arm64Old,
            (Some(Cpu::Arm64), _) => Layout::Arm64,
            (_, Some(l)) => l,
            (Some(c), None) => return Err(format!("{} contexts are not read", c.name())),
            (None, None) => return Err(format!("context flags {:#x} name no known CPU", f)),
        };
        let spec = layout.spec();
        let flags_end = if layout == Layout::Arm64Old {
            8
        } else {
            spec.flags_at + 4
        };
        if b.len() < flags_end {
            return Err(format!(
                "{} context of {} bytes ends before its flags",
                spec.name,
                b.len()
            ));
        }
        let flags = if layout == Layout::Arm64Old {
            u64_at(b, 0)
        } else {
            u32_at(b, spec.flags_at) as u64
        };
        if flags & spec.cpu_bit == 0 {
            // Some writers leave the CPU bit out; the groups still mean what they say.
            notes.push(format!(
                "context flags {:#x} lack the {} bit {:#x}",
                flags, spec.name, spec.cpu_bit
            ));
        }
        // Breakpad's macOS writer sets the CPU bit alone, with every register saved: no
        // group bit at all is read as integer and control registers saved.
        let groups = if flags & spec.group_bits == 0 {
            spec.group_bits
        } else {
            flags
        };
        let mut registers = Vec::new();
        let mut cut = None;
        for &(name, at, width, group) in spec.registers {
            if groups & group == 0 {
                continue;
            }
            if at + width > b.len() {
                cut.get_or_insert(name);
                continue;
            }
            let v = match width {
                2 => u16_at(b, at) as u64,
                4 => u32_at(b, at) as u64,
                _ => u64_at(b, at),
            };
            registers.push((name, v));
        }
        if let Some(first) = cut {
            notes.push(format!(
                "context is {} bytes: flagged registers from {} on are missing",
                b.len(),
                first
            ));
        }
        for &(what, group, end) in spec.other_groups {
            if flags & group != 0 && end > b.len() {
                notes.push(format!(
                    "context is {} bytes: the flagged {} state (to byte {}) is cut",
                    b.len(),
                    what,
                    end
                ));
            }
        }
        Ok((
            Context {
                cpu: spec.cpu,
                layout: spec.name,
                flags,
                size: b.len(),
                registers,
            },
            notes,
        ))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    X86,
    Amd64,
    Arm,
    Arm64,
    Arm64Old,
}

/// (name, byte offset, width, the flag bit of its group).
type Reg = (&'static str, usize, usize, u64);

struct Spec {
    cpu: Cpu,
    name: &'static str,
    flags_at: usize,
    cpu_bit: u64,
    registers: &'static [Reg],
    /// The bits of the register groups decoded.
    group_bits: u64,
    /// Groups not decoded: (what, flag bit, the byte their state ends at).
    other_groups: &'static [(&'static str, u64, usize)],
}

// x86 `CONTEXT`: CONTROL 1, INTEGER 2, SEGMENTS 4, FLOATING_POINT 8, DEBUG 0x10,
// EXTENDED 0x20; 716 bytes.
const X86: &[Reg] = &[
    ("eip", 184, 4, 1),
    ("esp", 196, 4, 1),
    ("ebp", 180, 4, 1),
    ("ebx", 164, 4, 2),
    ("esi", 160, 4, 2),
    ("edi", 156, 4, 2),
    ("eax", 176, 4, 2),
    ("ecx", 172, 4, 2),
    ("edx", 168, 4, 2),
    ("eflags", 192, 4, 1),
    ("cs", 188, 4, 1),
    ("ss", 200, 4, 1),
    ("ds", 152, 4, 4),
    ("es", 148, 4, 4),
    ("fs", 144, 4, 4),
    ("gs", 140, 4, 4),
];

// x86_64 `CONTEXT`: six home words, then the flags at 48; CONTROL 1 (rip, rsp, eflags,
// cs, ss), INTEGER 2 (the rest, rbp included), SEGMENTS 4; 1232 bytes.
const AMD64: &[Reg] = &[
    ("rax", 120, 8, 2),
    ("rdx", 136, 8, 2),
    ("rcx", 128, 8, 2),
    ("rbx", 144, 8, 2),
    ("rsi", 168, 8, 2),
    ("rdi", 176, 8, 2),
    ("rbp", 160, 8, 2),
    ("rsp", 152, 8, 1),
    ("r8", 184, 8, 2),
    ("r9", 192, 8, 2),
    ("r10", 200, 8, 2),
    ("r11", 208, 8, 2),
    ("r12", 216, 8, 2),
    ("r13", 224, 8, 2),
    ("r14", 232, 8, 2),
    ("r15", 240, 8, 2),
    ("rip", 248, 8, 1),
    ("eflags", 68, 4, 1),
    ("cs", 56, 2, 1),
    ("ss", 66, 2, 1),
    ("ds", 58, 2, 4),
    ("es", 60, 2, 4),
    ("fs", 62, 2, 4),
    ("gs", 64, 2, 4),
];

// 32-bit ARM: flags, r0..r15, cpsr (Breakpad's layout; Windows' starts the same). Breakpad
// saves all of them under INTEGER (2); Windows splits sp, lr, pc, cpsr into CONTROL (1).
const ARM: &[Reg] = &[
    ("r0", 4, 4, 2),
    ("r1", 8, 4, 2),
    ("r2", 12, 4, 2),
    ("r3", 16, 4, 2),
    ("r4", 20, 4, 2),
    ("r5", 24, 4, 2),
    ("r6", 28, 4, 2),
    ("r7", 32, 4, 2),
    ("r8", 36, 4, 2),
    ("r9", 40, 4, 2),
    ("r10", 44, 4, 2),
    ("r11", 48, 4, 2),
    ("r12", 52, 4, 2),
    ("sp", 56, 4, 3),
    ("lr", 60, 4, 3),
    ("pc", 64, 4, 3),
    ("cpsr", 68, 4, 3),
];

macro_rules! arm64_x {
    ($($n:literal)*) => {
        [$((concat!("x", $n), 8 + 8 * $n, 8, 2)),*]
    };
}

const ARM64_X: [Reg; 29] = arm64_x!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28);

// arm64 `CONTEXT` (Windows, Crashpad, new Breakpad): flags, cpsr, x0..x30, sp, pc;
// CONTROL 1 (fp, lr, sp, pc, cpsr), INTEGER 2 (x0..x28); 912 bytes.
const ARM64: &[Reg] = &concat_regs::<34>(
    &ARM64_X,
    &[
        ("fp", 240, 8, 1),
        ("lr", 248, 8, 1),
        ("sp", 256, 8, 1),
        ("pc", 264, 8, 1),
        ("cpsr", 4, 4, 1),
    ],
);

// Breakpad's old arm64 context: 64-bit flags, x0..x30, sp, pc, cpsr, all under
// INTEGER (2); packed to 4 bytes, 792 bytes.
const ARM64_OLD: &[Reg] = &concat_regs::<34>(
    &ARM64_X,
    &[
        ("fp", 240, 8, 2),
        ("lr", 248, 8, 2),
        ("sp", 256, 8, 2),
        ("pc", 264, 8, 2),
        ("cpsr", 272, 4, 2),
    ],
);

const fn concat_regs<const N: usize>(a: &[Reg; 29], b: &[Reg; 5]) -> [Reg; N] {
    let mut out = [("", 0, 0, 0); N];
    let mut i = 0;
    while i < 29 {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - 29];
        i += 1;
    }
    out
}

impl Layout {
    fn spec(self) -> Spec {
        match self {
            Layout::X86 => Spec {
                cpu: Cpu::X86,
                name: "x86",
                flags_at: 0,
                cpu_bit: 0x0001_0000,
                registers: X86,
                group_bits: 0x7,
                other_groups: &[
                    ("debug", 0x10, 28),
                    ("floating-point", 0x8, 140),
                    ("extended", 0x20, 716),
                ],
            },
            Layout::Amd64 => Spec {
                cpu: Cpu::X86_64,
                name: "amd64",
                flags_at: 48,
                cpu_bit: 0x0010_0000,
                registers: AMD64,
                group_bits: 0x7,
                other_groups: &[("debug", 0x10, 120), ("floating-point", 0x8, 768)],
            },
            Layout::Arm => Spec {
                cpu: Cpu::Arm,
                name: "arm",
                flags_at: 0,
                cpu_bit: 0x4020_0000,
                registers: ARM,
                group_bits: 0x3,
                other_groups: &[("floating-point", 0x4, 368)],
            },
            Layout::Arm64 => Spec {
                cpu: Cpu::Arm64,
                name: "arm64",
                flags_at: 0,
                cpu_bit: 0x0040_0000,
                registers: ARM64,
                group_bits: 0x3,
                other_groups: &[("floating-point", 0x4, 792), ("debug", 0x8, 912)],
            },
            Layout::Arm64Old => Spec {
                cpu: Cpu::Arm64,
                name: "arm64_old",
                flags_at: 0,
                cpu_bit: 0x8000_0000,
                registers: ARM64_OLD,
                group_bits: 0x2,
                other_groups: &[("floating-point", 0x4, 792)],
            },
        }
    }
}
