//! A [`Minidump`] as one JSON document, the form the ABI hands to hosts (ABI.md,
//! "Minidump document"). 64-bit values are hex strings ("0x7ffe1000"): JavaScript
//! numbers hold 53 bits. 32-bit values are numbers.

use super::*;
use std::fmt::Write;

const HEX: &[u8; 16] = b"0123456789abcdef";

struct Json {
    out: String,
    first: bool,
}

impl Json {
    fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    fn open(&mut self, c: char) {
        self.out.push(c);
        self.first = true;
    }

    fn close(&mut self, c: char) {
        self.out.push(c);
        self.first = false;
    }

    fn key(&mut self, k: &str) {
        self.sep();
        self.str_raw(k);
        self.out.push(':');
    }

    fn str_raw(&mut self, s: &str) {
        self.out.push('"');
        // Runs without anything to escape are copied whole (strings can be long).
        let mut from = 0;
        for (i, b) in s.bytes().enumerate() {
            let esc = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\t' => "\\t",
                b'\r' => "\\r",
                0..=0x1f => "",
                _ => continue,
            };
            self.out.push_str(&s[from..i]);
            if esc.is_empty() {
                self.out.push_str("\\u00");
                self.out.push(HEX[(b >> 4) as usize] as char);
                self.out.push(HEX[(b & 15) as usize] as char);
            } else {
                self.out.push_str(esc);
            }
            from = i + 1;
        }
        self.out.push_str(&s[from..]);
        self.out.push('"');
    }

    fn s(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str_raw(v);
    }

    fn opt_s(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => self.s(k, v),
            None => self.null(k),
        }
    }

    fn n(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.out, "{}", v);
    }

    fn opt_n(&mut self, k: &str, v: Option<u32>) {
        match v {
            Some(v) => self.n(k, v as u64),
            None => self.null(k),
        }
    }

    fn x(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.out, "\"{:#x}\"", v);
    }

    fn null(&mut self, k: &str) {
        self.key(k);
        self.out.push_str("null");
    }

    /// An array value under `k` (or a bare one inside an array when `k` is empty).
    fn array<T>(&mut self, k: &str, items: &[T], mut f: impl FnMut(&mut Json, &T)) {
        if k.is_empty() {
            self.sep();
        } else {
            self.key(k);
        }
        self.open('[');
        for it in items {
            f(self, it);
        }
        self.close(']');
    }

    /// An object value under `k` (or a bare one inside an array when `k` is empty).
    fn object(&mut self, k: &str, f: impl FnOnce(&mut Json)) {
        if k.is_empty() {
            self.sep();
        } else {
            self.key(k);
        }
        self.open('{');
        f(self);
        self.close('}');
    }

    fn item_s(&mut self, v: &str) {
        self.sep();
        self.str_raw(v);
    }

    fn item_x(&mut self, v: u64) {
        self.sep();
        let _ = write!(self.out, "\"{:#x}\"", v);
    }

    fn item_n(&mut self, v: u64) {
        self.sep();
        let _ = write!(self.out, "{}", v);
    }

    fn pairs(&mut self, k: &str, items: &[(String, String)]) {
        self.array(k, items, |j, (a, b)| j.array("", &[a, b], |j, s| j.item_s(s)));
    }
}

fn range(j: &mut Json, k: &str, r: &MemoryRange) {
    j.object(k, |j| {
        j.x("base", r.base);
        j.x("size", r.size);
        j.x("file_offset", r.file_offset);
    });
}

fn context(j: &mut Json, k: &str, c: &Option<Context>) {
    match c {
        None => j.null(k),
        Some(c) => j.object(k, |j| {
            j.s("cpu", c.cpu.name());
            j.s("layout", c.layout);
            j.x("flags", c.flags);
            j.n("size", c.size as u64);
            j.array("registers", &c.registers, |j, (name, v)| {
                j.sep();
                j.open('[');
                j.item_s(name);
                j.item_x(*v);
                j.close(']');
            });
        }),
    }
}

impl Minidump {
    /// The whole dump as JSON (ABI.md, "Minidump document").
    pub fn to_json(&self) -> String {
        let mut j = Json {
            out: String::with_capacity(4096 + 512 * (self.modules.len() + self.threads.len())),
            first: true,
        };
        j.open('{');
        j.n("timestamp", self.timestamp as u64);
        j.x("flags", self.flags);
        j.array("streams", &self.streams, |j, s| {
            j.object("", |j| {
                j.n("kind", s.kind as u64);
                j.n("offset", s.offset as u64);
                j.n("size", s.size as u64);
            })
        });
        match &self.system_info {
            None => j.null("system_info"),
            Some(si) => j.object("system_info", |j| {
                j.s("os", si.os);
                j.s("cpu", si.cpu.name());
                j.n("processor_architecture", si.processor_architecture as u64);
                j.n("platform_id", si.platform_id as u64);
                j.array(
                    "os_version",
                    &[si.os_version.0, si.os_version.1, si.os_version.2],
                    |j, v| j.item_n(*v as u64),
                );
                j.opt_s("csd_version", si.csd_version.as_deref());
                j.opt_s("cpu_vendor", si.cpu_vendor.as_deref());
                j.n("processor_count", si.processor_count as u64);
                j.n("processor_level", si.processor_level as u64);
                j.n("processor_revision", si.processor_revision as u64);
                j.n("product_type", si.product_type as u64);
                j.n("suite_mask", si.suite_mask as u64);
                j.array("cpu_features", &si.cpu_features, |j, v| j.item_n(*v as u64));
            }),
        }
        j.array("modules", &self.modules, |j, m| {
            j.object("", |j| {
                j.x("base", m.base);
                j.n("size", m.size as u64);
                j.x("extent", m.extent);
                j.n("checksum", m.checksum as u64);
                j.n("timestamp", m.timestamp as u64);
                j.s("code_file", &m.code_file);
                j.s("code_id", &m.code_id);
                j.s("debug_file", &m.debug_file);
                j.s("debug_id", &m.debug_id);
                j.s(
                    "codeview",
                    match m.codeview {
                        CodeView::None => "none",
                        CodeView::Pdb70 => "pdb70",
                        CodeView::Pdb20 => "pdb20",
                        CodeView::Elf => "elf",
                    },
                );
                j.opt_s("version", m.version.as_deref());
            })
        });
        j.array("unloaded_modules", &self.unloaded_modules, |j, m| {
            j.object("", |j| {
                j.x("base", m.base);
                j.n("size", m.size as u64);
                j.n("checksum", m.checksum as u64);
                j.n("timestamp", m.timestamp as u64);
                j.s("code_file", &m.code_file);
            })
        });
        j.array("threads", &self.threads, |j, t| {
            j.object("", |j| {
                j.n("id", t.id as u64);
                j.opt_s("name", t.name.as_deref());
                j.n("suspend_count", t.suspend_count as u64);
                j.n("priority_class", t.priority_class as u64);
                j.n("priority", t.priority as u64);
                j.x("teb", t.teb);
                match &t.stack {
                    Some(r) => range(j, "stack", r),
                    None => j.null("stack"),
                }
                context(j, "context", &t.context);
            })
        });
        match &self.exception {
            None => j.null("exception"),
            Some(e) => j.object("exception", |j| {
                j.n("thread_id", e.thread_id as u64);
                j.n("code", e.code as u64);
                j.n("flags", e.flags as u64);
                j.x("record", e.record);
                j.x("address", e.address);
                j.array("parameters", &e.parameters, |j, v| j.item_x(*v));
                j.s("reason", &e.reason);
                context(j, "context", &e.context);
            }),
        }
        match self.crashed_thread() {
            Some(i) => j.n("crashed_thread", i as u64),
            None => j.null("crashed_thread"),
        }
        j.array("memory", &self.memory, |j, r| range(j, "", r));
        j.array("memory_info", &self.memory_info, |j, m| {
            j.object("", |j| {
                j.x("base", m.base);
                j.x("allocation_base", m.allocation_base);
                j.n("allocation_protect", m.allocation_protect as u64);
                j.x("size", m.size);
                j.n("state", m.state as u64);
                j.n("protect", m.protect as u64);
                j.n("type", m.kind as u64);
            })
        });
        match &self.misc_info {
            None => j.null("misc_info"),
            Some(m) => j.object("misc_info", |j| {
                j.n("size", m.size as u64);
                j.n("flags", m.flags as u64);
                j.opt_n("process_id", m.process_id);
                match m.process_times {
                    Some((c, u, k)) => j.array("process_times", &[c, u, k], |j, v| j.item_n(*v as u64)),
                    None => j.null("process_times"),
                }
                match m.processor_mhz {
                    Some((a, b, c)) => j.array("processor_mhz", &[a, b, c], |j, v| j.item_n(*v as u64)),
                    None => j.null("processor_mhz"),
                }
                j.opt_s("build_string", m.build_string.as_ref().map(|b| b.0.as_str()));
                j.opt_s("debug_build_string", m.build_string.as_ref().map(|b| b.1.as_str()));
            }),
        }
        match &self.breakpad_info {
            None => j.null("breakpad_info"),
            Some(b) => j.object("breakpad_info", |j| {
                j.opt_n("dump_thread_id", b.dump_thread_id);
                j.opt_n("requesting_thread_id", b.requesting_thread_id);
            }),
        }
        match &self.assertion {
            None => j.null("assertion"),
            Some(a) => j.object("assertion", |j| {
                j.s("expression", &a.expression);
                j.s("function", &a.function);
                j.s("file", &a.file);
                j.n("line", a.line as u64);
                j.n("type", a.kind as u64);
            }),
        }
        j.object("linux", |j| {
            let l = &self.linux;
            j.array("maps", &l.maps, |j, m| {
                j.object("", |j| {
                    j.x("start", m.start);
                    j.x("end", m.end);
                    j.s("perms", &m.perms);
                    j.x("offset", m.offset);
                    j.n("inode", m.inode);
                    j.s("path", &m.path);
                })
            });
            j.opt_s("cpu_info", l.cpu_info.as_deref());
            j.pairs("lsb_release", &l.lsb_release);
            j.array("auxv", &l.auxv, |j, (k, v)| j.array("", &[*k, *v], |j, x| j.item_x(*x)));
        });
        match &self.crashpad_info {
            None => j.null("crashpad_info"),
            Some(c) => j.object("crashpad_info", |j| {
                j.n("version", c.version as u64);
                j.s("report_id", &c.report_id);
                j.s("client_id", &c.client_id);
                j.pairs("simple_annotations", &c.simple_annotations);
                j.array("modules", &c.modules, |j, m| {
                    j.object("", |j| {
                        j.n("module_index", m.module_index as u64);
                        j.array("list_annotations", &m.list_annotations, |j, s| j.item_s(s));
                        j.pairs("simple_annotations", &m.simple_annotations);
                        j.array("annotation_objects", &m.annotation_objects, |j, a| {
                            j.object("", |j| {
                                j.s("name", &a.name);
                                j.n("type", a.kind as u64);
                                j.s("value", &a.value);
                            })
                        });
                    })
                });
            }),
        }
        j.array("warnings", &self.warnings, |j, w| j.item_s(w));
        j.close('}');
        j.out
    }
}
