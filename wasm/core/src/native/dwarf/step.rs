//! Stepping over DIEs: most DIEs (types, variables, parameters, ...) only need their
//! end, found from a plan per abbreviation instead of gimli reading every attribute.

use super::units::Decls;
use super::{uleb9, Dwarf};
use crate::hash::FastMap;

/// How to step over one attribute (the sizes gimli's `skip_attributes` uses).
#[derive(Clone, Copy)]
enum Step {
    Bytes(usize),
    Leb128,
    /// Null-terminated.
    String,
    /// A length of one byte, then the bytes.
    Block1,
    /// A ULEB128 length, then the bytes.
    BlockLeb,
}

/// How to step over a DIE of one abbreviation; `None` where gimli must read it (unknown
/// code or form).
type Plan = Option<SkipPlan>;

struct SkipPlan {
    tag: gimli::DwTag,
    children: bool,
    steps: Vec<Step>,
    /// The DIE's size after its code when `steps` are all fixed sizes.
    fixed: Option<usize>,
    /// No attribute that `UnitCode::collect` reads can fail to parse (given its bytes):
    /// its forms have no size or offset gimli could refuse.
    safe: bool,
    /// Has `DW_AT_low_pc`, `DW_AT_high_pc` or `DW_AT_ranges`.
    ranged: bool,
}

/// An attribute's name and form (gimli's `AttributeSpecification` without the constant).
struct Spec {
    name: gimli::DwAt,
    form: gimli::DwForm,
}

impl Spec {
    fn name(&self) -> gimli::DwAt {
        self.name
    }

    fn form(&self) -> gimli::DwForm {
        self.form
    }
}

/// Where the LEB128 at `pos` in `b` ends (any length).
fn skip_leb(b: &[u8], pos: usize) -> Option<usize> {
    Some(pos + b.get(pos..)?.iter().position(|&x| x < 0x80)? + 1)
}

/// The abbreviation code of the DIE at `pos` in `b` and where its attributes start; `None`
/// for a code of more than two bytes (gimli reads those).
#[inline(always)]
fn code_at(b: &[u8], pos: usize) -> Option<(u64, usize)> {
    match *b.get(pos..)? {
        [c, ..] if c < 0x80 => Some((u64::from(c), pos + 1)),
        [c0, c1, ..] if c1 < 0x80 => Some((u64::from(c0 & 0x7f) | u64::from(c1) << 7, pos + 2)),
        _ => None,
    }
}

/// What [`Skips::step`] found.
pub(super) struct Stepped {
    pub(super) tag: gimli::DwTag,
    pub(super) children: bool,
    /// Where the next DIE starts.
    pub(super) end: usize,
    pub(super) safe: bool,
    pub(super) ranged: bool,
}

/// Plans by abbreviation code (the codes of a unit are mostly 1, 2, 3, ...), made from the
/// unit's declarations ([`Decls`]).
pub(super) struct Skips {
    encoding: gimli::Encoding,
    plans: Vec<Option<Plan>>,
    /// The plans of fixed size packed in a word by code ([`QUICK`] set; 0: look in
    /// `plans`): most DIEs are stepped with one load.
    quick: Vec<u64>,
    /// Quick words by declaration (its bytes after the code; of units of `encoding`): by hash,
    /// the declaration's place in `.debug_abbrev` and its word. The units of a library
    /// declare mostly the same DIEs under other codes, and planning them again was ~3 %
    /// of libc's build (65k plans of 2,063 tables).
    known: FastMap<u64, (usize, usize, u64)>,
}

/// [`Skips::known`]'s key of a declaration: its hash, start and length.
type Known = (u64, usize, usize);

/// [`Skips::quick`]: bits 0..32 the size, 32..48 the tag, then children, safe, ranged,
/// [`PASS`].
const QUICK: u64 = 1 << 63;

/// Neither a subprogram nor an inlined subroutine: its children belong where it does.
const PASS: u64 = 1 << 51;

/// Codes above this are read by gimli.
const MAX_PLANNED_CODE: u64 = 1 << 14;

impl Skips {
    pub(super) fn new(encoding: gimli::Encoding) -> Self {
        Skips {
            encoding,
            plans: Vec::new(),
            quick: Vec::new(),
            known: FastMap::default(),
        }
    }

    /// The quick word of a declaration planned before, in this unit or another (where
    /// known; else the key to keep it under): ([hash, start, length], word).
    fn known(&self, decl: &[u8], dwarf: &Dwarf<'_>) -> Option<(Known, Option<u64>)> {
        use gimli::Section;
        use std::hash::Hasher;
        let body = &decl[uleb9(decl, 0)?.1..];
        let mut h = crate::hash::FastHasher::default();
        h.write(body);
        let hash = h.finish();
        let section = dwarf.debug_abbrev.reader().slice();
        let start = (body.as_ptr() as usize).wrapping_sub(section.as_ptr() as usize);
        let word = match self.known.get(&hash) {
            Some(&(s, n, q))
                if section
                    .get(s..s + n)
                    .map_or(false, |d| crate::hash::same_bytes(d, body)) =>
            {
                Some(q)
            }
            Some(_) => return None, // (another declaration of the hash: planned here)
            None => None,
        };
        Some(((hash, start, body.len()), word))
    }

    /// Forgets the plans, for a unit of `encoding` (the buffers are kept).
    pub(super) fn reset(&mut self, encoding: gimli::Encoding) {
        if encoding != self.encoding {
            // (a declaration's sizes depend on it)
            self.known.clear();
        }
        self.encoding = encoding;
        self.plans.clear();
        self.quick.clear();
    }

    /// The plan of a declaration (its bytes, from its code on; read already, so well formed).
    fn plan(decl: &[u8], encoding: gimli::Encoding) -> Plan {
        // (no intermediate list: a plan is made per code of every unit answered)
        let (_, mut at) = uleb9(decl, 0)?;
        let (tag, after) = uleb9(decl, at)?;
        let tag = gimli::DwTag(u16::try_from(tag).ok()?);
        let children = *decl.get(after)? == gimli::DW_CHILDREN_yes.0;
        at = after + 1;
        let mut steps: Vec<Step> = Vec::new();
        let mut run = 0usize; // fixed sizes not yet in `steps`
        let (mut safe, mut ranged) = (true, false);
        loop {
            let (name, after) = uleb9(decl, at)?;
            let (form, after) = uleb9(decl, after)?;
            at = after;
            if name == 0 {
                break;
            }
            let spec = Spec {
                name: gimli::DwAt(u16::try_from(name).ok()?),
                form: gimli::DwForm(u16::try_from(form).ok()?),
            };
            if spec.form == gimli::DW_FORM_implicit_const {
                at = skip_leb(decl, at)?;
            }
            ranged |= matches!(
                spec.name(),
                gimli::DW_AT_low_pc | gimli::DW_AT_high_pc | gimli::DW_AT_ranges
            );
            // Forms `parse_attribute` reads without a check that could fail in bounds
            // (offsets of 32-bit DWARF fit any usize).
            safe &= match spec.form() {
                gimli::DW_FORM_data1
                | gimli::DW_FORM_data2
                | gimli::DW_FORM_data4
                | gimli::DW_FORM_data8
                | gimli::DW_FORM_data16 => true,
                gimli::DW_FORM_flag | gimli::DW_FORM_flag_present | gimli::DW_FORM_implicit_const => true,
                gimli::DW_FORM_ref1 | gimli::DW_FORM_ref2 | gimli::DW_FORM_ref4 | gimli::DW_FORM_string => true,
                gimli::DW_FORM_block1
                | gimli::DW_FORM_block
                | gimli::DW_FORM_exprloc
                | gimli::DW_FORM_udata
                | gimli::DW_FORM_sdata => true,
                gimli::DW_FORM_strp | gimli::DW_FORM_line_strp | gimli::DW_FORM_sec_offset => {
                    encoding.format.word_size() == 4
                }
                gimli::DW_FORM_ref_addr => encoding.format.word_size() == 4 && encoding.version != 2,
                _ => false,
            };
            let step = match spec.form() {
                gimli::DW_FORM_addr => Step::Bytes(usize::from(encoding.address_size)),
                gimli::DW_FORM_implicit_const | gimli::DW_FORM_flag_present => Step::Bytes(0),
                gimli::DW_FORM_data1
                | gimli::DW_FORM_flag
                | gimli::DW_FORM_strx1
                | gimli::DW_FORM_ref1
                | gimli::DW_FORM_addrx1 => Step::Bytes(1),
                gimli::DW_FORM_data2 | gimli::DW_FORM_ref2 | gimli::DW_FORM_addrx2 | gimli::DW_FORM_strx2 => {
                    Step::Bytes(2)
                }
                gimli::DW_FORM_addrx3 | gimli::DW_FORM_strx3 => Step::Bytes(3),
                gimli::DW_FORM_data4
                | gimli::DW_FORM_ref_sup4
                | gimli::DW_FORM_ref4
                | gimli::DW_FORM_strx4
                | gimli::DW_FORM_addrx4 => Step::Bytes(4),
                gimli::DW_FORM_data8 | gimli::DW_FORM_ref8 | gimli::DW_FORM_ref_sig8 | gimli::DW_FORM_ref_sup8 => {
                    Step::Bytes(8)
                }
                gimli::DW_FORM_data16 => Step::Bytes(16),
                gimli::DW_FORM_sec_offset
                | gimli::DW_FORM_GNU_ref_alt
                | gimli::DW_FORM_strp
                | gimli::DW_FORM_strp_sup
                | gimli::DW_FORM_GNU_strp_alt
                | gimli::DW_FORM_line_strp => Step::Bytes(usize::from(encoding.format.word_size())),
                gimli::DW_FORM_ref_addr => Step::Bytes(usize::from(if encoding.version == 2 {
                    encoding.address_size
                } else {
                    encoding.format.word_size()
                })),
                gimli::DW_FORM_block1 => Step::Block1,
                gimli::DW_FORM_block | gimli::DW_FORM_exprloc => Step::BlockLeb,
                gimli::DW_FORM_string => Step::String,
                gimli::DW_FORM_udata
                | gimli::DW_FORM_sdata
                | gimli::DW_FORM_ref_udata
                | gimli::DW_FORM_strx
                | gimli::DW_FORM_GNU_str_index
                | gimli::DW_FORM_addrx
                | gimli::DW_FORM_GNU_addr_index
                | gimli::DW_FORM_loclistx
                | gimli::DW_FORM_rnglistx => Step::Leb128,
                _ => return None, // (block2, block4, indirect, unknown forms)
            };
            // Neighbouring fixed sizes are one step.
            match step {
                Step::Bytes(m) => run += m,
                _ => {
                    if steps.capacity() == 0 {
                        steps.reserve(decl.len() / 2);
                    }
                    if run > 0 {
                        steps.push(Step::Bytes(run));
                        run = 0;
                    }
                    steps.push(step);
                }
            }
        }
        let fixed = if steps.is_empty() {
            Some(run)
        } else {
            if run > 0 {
                steps.push(Step::Bytes(run));
            }
            None
        };
        Some(SkipPlan {
            tag,
            children,
            steps,
            fixed,
            safe,
            ranged,
        })
    }

    /// The DIE at `pos` where it neither holds code nor changes what its children belong
    /// to, of a plan of fixed size (most DIEs): where the next DIE starts, and whether it
    /// has children. `None` for any other ([`step`](Self::step) tells).
    #[inline(always)]
    pub(super) fn pass(&self, b: &[u8], pos: usize) -> Option<(usize, bool)> {
        let (code, at) = code_at(b, pos)?;
        let q = *self.quick.get((code as usize).wrapping_sub(1))?;
        if q & PASS == 0 {
            return None;
        }
        let end = at.checked_add((q & 0xffff_ffff) as usize)?;
        if end > b.len() {
            return None;
        }
        Some((end, q >> 48 & 1 != 0))
    }

    /// The DIE at `pos`: its tag (0 for a null entry), whether it has children, and where
    /// the next DIE starts; `None` where gimli must read it.
    pub(super) fn step(&mut self, b: &[u8], pos: usize, dwarf: &Dwarf<'_>, decls: &Decls) -> Option<Stepped> {
        let (code, mut at) = code_at(b, pos)?;
        if code == 0 {
            return Some(Stepped {
                tag: gimli::DwTag(0),
                children: false,
                end: at,
                safe: true,
                ranged: false,
            });
        }
        if code > MAX_PLANNED_CODE {
            return None;
        }
        let i = code as usize - 1;
        if let Some(&q) = self.quick.get(i) {
            if q != 0 {
                at = at.checked_add((q & 0xffff_ffff) as usize)?;
                if at > b.len() {
                    return None;
                }
                return Some(Stepped {
                    tag: gimli::DwTag((q >> 32) as u16),
                    children: q >> 48 & 1 != 0,
                    end: at,
                    safe: q >> 49 & 1 != 0,
                    ranged: q >> 50 & 1 != 0,
                });
            }
        }
        if !matches!(self.plans.get(i), Some(Some(_))) {
            if i >= self.plans.len() {
                self.plans.resize_with(i + 1, || None);
                self.quick.resize(i + 1, 0);
            }
            let decl = decls.decl(dwarf, code);
            let known = decl.and_then(|d| self.known(d, dwarf));
            if let Some(q) = known.and_then(|k| k.1) {
                self.quick[i] = q;
                return self.step(b, pos, dwarf, decls);
            }
            let plan = decl.and_then(|d| Self::plan(d, self.encoding));
            if let Some(p) = &plan {
                if let Some(n) = p.fixed.filter(|&n| n <= 0xffff_ffff) {
                    let q = QUICK
                        | n as u64
                        | u64::from(p.tag.0) << 32
                        | u64::from(p.children) << 48
                        | u64::from(p.safe) << 49
                        | u64::from(p.ranged) << 50
                        | if matches!(p.tag, gimli::DW_TAG_subprogram | gimli::DW_TAG_inlined_subroutine) {
                            0
                        } else {
                            PASS
                        };
                    self.quick[i] = q;
                    if let Some((key, None)) = known {
                        self.known.insert(key.0, (key.1, key.2, q));
                    }
                }
            }
            self.plans[i] = Some(plan);
        }
        let plan = self.plans[i].as_ref()?.as_ref()?;
        if let Some(n) = plan.fixed {
            // (most DIEs: one add)
            at = at.checked_add(n)?;
            if at > b.len() {
                return None;
            }
            return Some(Stepped {
                tag: plan.tag,
                children: plan.children,
                end: at,
                safe: plan.safe,
                ranged: plan.ranged,
            });
        }
        for s in &plan.steps {
            let len = match *s {
                Step::Bytes(n) => n,
                // (longer ones are gimli's: it refuses some 10-byte values when it reads one,
                // in a code DIE or a declaration it used to read)
                Step::Leb128 => uleb9(b, at)?.1 - at,
                Step::String => b.get(at..)?.iter().position(|&x| x == 0)? + 1,
                Step::Block1 => 1 + usize::from(*b.get(at)?),
                Step::BlockLeb => {
                    let (v, end) = uleb9(b, at)?; // (longer: gimli's overflow check)
                    (end - at).checked_add(usize::try_from(v).ok()?)?
                }
            };
            at = at.checked_add(len)?;
            if at > b.len() {
                return None;
            }
        }
        Some(Stepped {
            tag: plan.tag,
            children: plan.children,
            end: at,
            safe: plan.safe,
            ranged: plan.ranged,
        })
    }
}

#[cfg(test)]
mod tests {
    /// The DIE stepper hands a LEB128 longer than 9 bytes to gimli, which refuses some of
    /// them (a 10th byte above 1): stepping over one would accept a DIE gimli rejects.
    #[test]
    fn long_leb128_is_left_to_gimli() {
        use gimli::RunTimeEndian::Little;
        // 1: DW_TAG_compile_unit with children; 2: DW_TAG_variable, DW_AT_const_value udata.
        let abbrev = [1u8, 0x11, 1, 0, 0, 2, 0x34, 0, 0x1c, 0x0f, 0, 0, 0];
        let check = |leb: &[u8], steps: bool| {
            // version 4, abbreviations at 0, 8-byte addresses; the unit's DIE, ours at 12
            let mut body = vec![4u8, 0, 0, 0, 0, 0, 8, 1, 2];
            body.extend_from_slice(leb);
            body.push(0);
            let mut info = (body.len() as u32).to_le_bytes().to_vec();
            info.extend(body);
            let dwarf = gimli::Dwarf {
                debug_abbrev: gimli::DebugAbbrev::new(&abbrev, Little),
                ..Default::default()
            };
            let header = gimli::DebugInfo::new(&info, Little).units().next().unwrap().unwrap();
            let mut decls = super::Decls::default();
            let unit = super::super::units::open_unit(&dwarf, header, &mut decls).unwrap().0;
            let st = super::Skips::new(unit.encoding()).step(&info, 12, &dwarf, &decls);
            assert_eq!(
                st.map(|s| s.end),
                if steps { Some(info.len() - 1) } else { None },
                "{:x?}",
                leb
            );
            let full = dwarf.abbreviations(&unit.header).unwrap();
            let mut entries = unit.header.entries(&full);
            entries.next_dfs().unwrap();
            let (_, die) = entries.next_dfs().unwrap().unwrap();
            assert_eq!(die.attrs().next().is_ok(), steps, "gimli reads {:x?}", leb);
        };
        check(&[0x7f], true);
        check(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], true);
        check(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], false);
    }
}
