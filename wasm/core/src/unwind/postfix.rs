//! Breakpad's postfix expressions (`STACK CFI` rules, `STACK WIN` programs): numbers,
//! names (`$esp`, `.cfa`, `$T0`), `+ - * / % @` (align), `^` (read a word), `=` (assign).
//! Linear in the text, with a bounded stack: any text ends quickly.

const MAX_STACK: usize = 64;
const MAX_VARS: usize = 64;

enum Item<'t> {
    Value(u64),
    Name(&'t str),
}

/// Variables by name (few: a plain list).
#[derive(Default)]
pub struct Vars {
    pub(crate) list: Vec<(String, u64)>,
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.list.iter().rev().find(|v| v.0 == name).map(|v| v.1)
    }

    pub fn set(&mut self, name: &str, value: u64) -> Option<()> {
        if let Some(v) = self.list.iter_mut().find(|v| v.0 == name) {
            v.1 = value;
        } else if self.list.len() < MAX_VARS {
            self.list.push((name.to_string(), value));
        } else {
            return None;
        }
        Some(())
    }
}

/// Runs `text` over `vars` (values cut to `mask`); reads words with `read`. Gives the
/// value left on top of the stack (a CFI rule), or `None` on an error.
pub fn run(text: &str, vars: &mut Vars, read: &mut dyn FnMut(u64) -> Option<u64>, mask: u64) -> Option<Option<u64>> {
    let mut stack: Vec<Item<'_>> = Vec::new();
    fn value(vars: &Vars, it: Item<'_>) -> Option<u64> {
        match it {
            Item::Value(v) => Some(v),
            Item::Name(n) => vars.get(n),
        }
    }
    for tok in text.split_ascii_whitespace() {
        match tok {
            "+" | "-" | "*" | "/" | "%" | "@" => {
                let b = value(vars, stack.pop()?)?;
                let a = value(vars, stack.pop()?)?;
                let v = match tok {
                    "+" => a.wrapping_add(b),
                    "-" => a.wrapping_sub(b),
                    "*" => a.wrapping_mul(b),
                    "/" => a.checked_div(b)?,
                    "%" => a.checked_rem(b)?,
                    _ => {
                        if b == 0 || !b.is_power_of_two() {
                            return None;
                        }
                        a & !(b - 1)
                    }
                };
                stack.push(Item::Value(v & mask));
            }
            "^" => {
                let a = value(vars, stack.pop()?)?;
                stack.push(Item::Value(read(a)? & mask));
            }
            "=" => {
                let v = value(vars, stack.pop()?)?;
                match stack.pop()? {
                    Item::Name(n) => vars.set(n, v)?,
                    Item::Value(_) => return None,
                }
            }
            t => {
                if stack.len() >= MAX_STACK {
                    return None;
                }
                let first = t.as_bytes()[0];
                if first == b'$' || first == b'.' {
                    stack.push(Item::Name(t));
                } else {
                    let v = if let Some(h) = t.strip_prefix("0x") {
                        u64::from_str_radix(h, 16).ok()?
                    } else if let Some(n) = t.strip_prefix('-') {
                        n.parse::<u64>().ok()?.wrapping_neg()
                    } else {
                        t.parse::<u64>().ok()?
                    };
                    stack.push(Item::Value(v & mask));
                }
            }
        }
    }
    match stack.pop() {
        None => Some(None),
        Some(it) => Some(Some(value(vars, it)?)),
    }
}
