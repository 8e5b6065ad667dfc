//! Readable crash reasons from an exception stream's code, flags and parameters: Windows
//! status codes, Linux signals with their `si_code`, macOS Mach exception types with
//! their codes.

fn windows_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x4000_0015 => "STATUS_FATAL_APP_EXIT",
        0x8000_0001 => "EXCEPTION_GUARD_PAGE",
        0x8000_0002 => "EXCEPTION_DATATYPE_MISALIGNMENT",
        0x8000_0003 => "EXCEPTION_BREAKPOINT",
        0x8000_0004 => "EXCEPTION_SINGLE_STEP",
        0xc000_0005 => "EXCEPTION_ACCESS_VIOLATION",
        0xc000_0006 => "EXCEPTION_IN_PAGE_ERROR",
        0xc000_0008 => "EXCEPTION_INVALID_HANDLE",
        0xc000_000d => "STATUS_INVALID_PARAMETER",
        0xc000_0017 => "STATUS_NO_MEMORY",
        0xc000_001d => "EXCEPTION_ILLEGAL_INSTRUCTION",
        0xc000_0025 => "EXCEPTION_NONCONTINUABLE_EXCEPTION",
        0xc000_0026 => "EXCEPTION_INVALID_DISPOSITION",
        0xc000_008c => "EXCEPTION_ARRAY_BOUNDS_EXCEEDED",
        0xc000_008d => "EXCEPTION_FLT_DENORMAL_OPERAND",
        0xc000_008e => "EXCEPTION_FLT_DIVIDE_BY_ZERO",
        0xc000_008f => "EXCEPTION_FLT_INEXACT_RESULT",
        0xc000_0090 => "EXCEPTION_FLT_INVALID_OPERATION",
        0xc000_0091 => "EXCEPTION_FLT_OVERFLOW",
        0xc000_0092 => "EXCEPTION_FLT_STACK_CHECK",
        0xc000_0093 => "EXCEPTION_FLT_UNDERFLOW",
        0xc000_0094 => "EXCEPTION_INT_DIVIDE_BY_ZERO",
        0xc000_0095 => "EXCEPTION_INT_OVERFLOW",
        0xc000_0096 => "EXCEPTION_PRIV_INSTRUCTION",
        0xc000_00fd => "EXCEPTION_STACK_OVERFLOW",
        0xc000_0135 => "STATUS_DLL_NOT_FOUND",
        0xc000_0142 => "STATUS_DLL_INIT_FAILED",
        0xc000_0374 => "STATUS_HEAP_CORRUPTION",
        0xc000_0409 => "STATUS_STACK_BUFFER_OVERRUN",
        0xc000_0420 => "STATUS_ASSERTION_FAILURE",
        0xc000_0602 => "STATUS_FAIL_FAST_EXCEPTION",
        0xe06d_7363 => "EXCEPTION_CXX", // a C++ `throw` ("\xe0msc")
        _ => return None,
    })
}

fn windows(code: u32, params: &[u64]) -> String {
    let name = match windows_name(code) {
        Some(n) => n,
        None => return format!("{:#010x}", code),
    };
    // For access violations and in-page errors the first parameter is the access kind.
    if code == 0xc000_0005 || code == 0xc000_0006 {
        let kind = match params.first() {
            Some(0) => "_READ",
            Some(1) => "_WRITE",
            Some(8) => "_EXEC",
            _ => "",
        };
        return format!("{}{}", name, kind);
    }
    name.to_string()
}

const SIGNALS: [&str; 32] = [
    "",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

fn si_code(signal: u32, code: i32) -> Option<&'static str> {
    let specific: &[&str] = match signal {
        4 => &[
            "ILL_ILLOPC",
            "ILL_ILLOPN",
            "ILL_ILLADR",
            "ILL_ILLTRP",
            "ILL_PRVOPC",
            "ILL_PRVREG",
            "ILL_COPROC",
            "ILL_BADSTK",
        ],
        7 => &[
            "BUS_ADRALN",
            "BUS_ADRERR",
            "BUS_OBJERR",
            "BUS_MCEERR_AR",
            "BUS_MCEERR_AO",
        ],
        8 => &[
            "FPE_INTDIV",
            "FPE_INTOVF",
            "FPE_FLTDIV",
            "FPE_FLTOVF",
            "FPE_FLTUND",
            "FPE_FLTRES",
            "FPE_FLTINV",
            "FPE_FLTSUB",
        ],
        11 => &["SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR"],
        5 => &["TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT"],
        _ => &[],
    };
    if code >= 1 && (code as usize) <= specific.len() {
        return Some(specific[code as usize - 1]);
    }
    Some(match code {
        0 => "SI_USER",
        0x80 => "SI_KERNEL",
        -1 => "SI_QUEUE",
        -2 => "SI_TIMER",
        -3 => "SI_MESGQ",
        -4 => "SI_ASYNCIO",
        -6 => "SI_TKILL",
        _ => return None,
    })
}

fn linux(code: u32, flags: u32) -> String {
    if code == 0xffff_ffff {
        // Breakpad's marker for a dump written on request, without a crash.
        return "DUMP_REQUESTED".to_string();
    }
    let sig = match SIGNALS.get(code as usize) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => return format!("signal {}", code),
    };
    // Writers that do not record si_code leave 0 there (lldb, some Breakpad dumps of
    // real faults), so 0 is not named SI_USER.
    match si_code(code, flags as i32) {
        Some(c) if flags != 0 => format!("{} / {}", sig, c),
        _ => sig,
    }
}

fn mac(code: u32, flags: u32) -> String {
    const TYPES: [&str; 14] = [
        "",
        "EXC_BAD_ACCESS",
        "EXC_BAD_INSTRUCTION",
        "EXC_ARITHMETIC",
        "EXC_EMULATION",
        "EXC_SOFTWARE",
        "EXC_BREAKPOINT",
        "EXC_SYSCALL",
        "EXC_MACH_SYSCALL",
        "EXC_RPC_ALERT",
        "EXC_CRASH",
        "EXC_RESOURCE",
        "EXC_GUARD",
        "EXC_CORPSE_NOTIFY",
    ];
    let name = match TYPES.get(code as usize) {
        Some(s) if !s.is_empty() => *s,
        _ => return format!("{:#x}", code),
    };
    let detail = match (code, flags) {
        (1, 1) => Some("KERN_INVALID_ADDRESS"),
        (1, 2) => Some("KERN_PROTECTION_FAILURE"),
        (1, 8) => Some("KERN_NO_ACCESS"),
        (1, 9) => Some("KERN_MEMORY_FAILURE"),
        (1, 10) => Some("KERN_MEMORY_ERROR"),
        (1, 13) => Some("EXC_I386_GPFLT"),
        (1, 0x101) => Some("EXC_ARM_DA_ALIGN"),
        (1, 0x102) => Some("EXC_ARM_DA_DEBUG"),
        (2, 1) => Some("EXC_I386_INVOP"),
        (3, 1) => Some("EXC_I386_DIV"),
        (3, 2) => Some("EXC_I386_INTO"),
        (5, 0x0001_0003) => Some("SIGABRT"),
        _ => None,
    };
    match detail {
        Some(d) => format!("{} / {}", name, d),
        None if flags != 0 => format!("{} / {:#x}", name, flags),
        None => name.to_string(),
    }
}

/// The crash reason for an exception on `os` (a [`SystemInfo::os`](super::SystemInfo)
/// name): "EXCEPTION_ACCESS_VIOLATION_WRITE", "SIGSEGV / SEGV_MAPERR",
/// "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"; an unknown code in hex.
pub fn crash_reason(os: &str, code: u32, flags: u32, params: &[u64]) -> String {
    match os {
        "windows" => windows(code, params),
        "linux" | "android" | "solaris" | "unix" => linux(code, flags),
        "macos" | "ios" => match params {
            // Crashpad keeps the Mach exception in the parameters; an EXC_CRASH from a
            // signal has the signal in bits 24..32 of its first code (the exception
            // code itself is then 0).
            [10, c0, ..] if code == 0 => match SIGNALS.get(((c0 >> 24) & 0xff) as usize) {
                Some(s) if !s.is_empty() => format!("EXC_CRASH / {}", s),
                _ => mac(10, *c0 as u32),
            },
            _ => mac(code, flags),
        },
        _ => format!("{:#010x}", code),
    }
}
