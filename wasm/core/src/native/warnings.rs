//! What a reader skipped of a file it otherwise answered for.
//!
//! A defect local to one part of a debug file (a DWARF unit, a line program, a Breakpad
//! line, a wasm custom section) skips that part; the rest is answered and the skip is
//! recorded here, grouped by what was skipped and why, with a count and the first place.

/// Distinct (what, why) groups kept; later ones are folded into one "other" count, so a
/// file of many different defects cannot grow the list without bound.
const MAX_GROUPS: usize = 32;

/// Skipped parts, grouped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Warnings {
    groups: Vec<Group>,
    /// Skips beyond [`MAX_GROUPS`] groups.
    other: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    /// Singular noun ("unit", "line program", ...).
    what: &'static str,
    why: String,
    count: u64,
    first_at: String,
}

impl Warnings {
    /// Records that one `what` was skipped because of `why`, at `at` (a place in the file,
    /// e.g. `.debug_info+0x1c40`; made only for the first of a group).
    pub fn skip(&mut self, what: &'static str, why: &str, at: impl FnOnce() -> String) {
        if let Some(g) = self.groups.iter_mut().find(|g| g.what == what && g.why == why) {
            g.count += 1;
        } else if self.groups.len() < MAX_GROUPS {
            self.groups.push(Group {
                what,
                why: why.to_string(),
                count: 1,
                first_at: at(),
            });
        } else {
            self.other += 1;
        }
    }

    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// One short line per group: "3 units skipped: missing top-level DIE at
    /// .debug_info+0x1c40 (the first)".
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                if g.count == 1 {
                    format!("1 {} skipped: {} at {}", g.what, g.why, g.first_at)
                } else {
                    format!(
                        "{} {}s skipped: {} at {} (the first)",
                        g.count, g.what, g.why, g.first_at
                    )
                }
            })
            .collect();
        if self.other > 0 {
            out.push(format!("{} more parts skipped for other reasons", self.other));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grouped_and_bounded() {
        let mut w = super::Warnings::default();
        assert!(w.is_empty());
        for at in [0x1c40, 0x2000, 0x3000] {
            w.skip("unit", "missing top-level DIE", || format!(".debug_info+{:#x}", at));
        }
        w.skip("line program", "truncated", || "x".to_string());
        assert_eq!(
            w.lines(),
            vec![
                "3 units skipped: missing top-level DIE at .debug_info+0x1c40 (the first)".to_string(),
                "1 line program skipped: truncated at x".to_string(),
            ]
        );
        for i in 0..100 {
            w.skip("unit", &format!("reason {}", i), String::new);
        }
        let lines = w.lines();
        assert_eq!(lines.len(), super::MAX_GROUPS + 1);
        assert_eq!(lines.last().unwrap(), "70 more parts skipped for other reasons");
    }
}
