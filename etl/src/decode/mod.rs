//! Bytes in, text out: the only module that knows CP950 and its user-defined
//! characters.
//!
//! A data file is UTF-8 when it starts with a UTF-8 BOM and CP950 otherwise.
//! CP950's standard double-byte codes are decoded with `encoding_rs`'s big5
//! tables (WHATWG), corrected where Microsoft's code page differs. The
//! user-defined areas are never given to `encoding_rs`: WHATWG big5 reads
//! many of those codes as Hong Kong (HKSCS) characters, which would put the
//! wrong character into a party's name. They go through the batch's
//! `EUDC.csv` instead, and an unmapped one becomes 〓 (U+3013) and is counted.
//! Private-use characters in UTF-8 files are treated the same way.

pub mod eudc;
pub mod lines;

use std::collections::HashMap;
use std::fmt;

pub use eudc::{load_eudc, EudcError};

/// Shown in place of a user-defined character nobody mapped.
pub use schemas::text::GETA;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a file's bytes are encoded, decided per file from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Cp950,
    Utf8,
}

impl Encoding {
    /// Detects the encoding and returns the bytes after any BOM.
    pub fn detect(bytes: &[u8]) -> (Encoding, &[u8]) {
        match bytes.strip_prefix(UTF8_BOM) {
            Some(rest) => (Encoding::Utf8, rest),
            None => (Encoding::Cp950, bytes),
        }
    }
}

/// Bytes that are not valid in the file's encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBytes {
    pub encoding: Encoding,
    /// Offset of the bad sequence within the field.
    pub offset: usize,
    pub bytes: Vec<u8>,
}

impl fmt::Display for InvalidBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.encoding {
            Encoding::Cp950 => "CP950",
            Encoding::Utf8 => "UTF-8",
        };
        write!(f, "invalid {name} bytes")?;
        for b in &self.bytes {
            write!(f, " {b:#04X}")?;
        }
        write!(f, " at byte {}", self.offset + 1)
    }
}

/// User-defined characters met while decoding one row.
#[derive(Debug, Default, Clone)]
pub struct UdcSeen {
    pub mapped: u32,
    /// Codes with no mapping, as `FA41` (CP950) or `U+E000` (UTF-8:
    /// [`utf8_only`]).
    pub unmapped: Vec<String>,
}

/// Whether every one of these unmapped codes is a UTF-8 file's private-use
/// character (`U+E000`), which `EUDC.csv` cannot map: it maps CP950 codes
/// only (the contract), so the court must write the character itself.
pub fn utf8_only<S: AsRef<str>>(codes: impl IntoIterator<Item = S>) -> bool {
    let mut any = false;
    for c in codes {
        if !c.as_ref().starts_with("U+") {
            return false;
        }
        any = true;
    }
    any
}

/// What a clerk is told to do of a field these codes made 〓.
pub fn unmapped_advice(codes: &[String]) -> String {
    if utf8_only(codes) {
        format!(
            "a private-use character of a UTF-8 file ({}), which EUDC.csv cannot map (it maps \
             CP950 codes only): the court must write the character itself",
            codes.join(", ")
        )
    } else if codes.is_empty() {
        "map the code in EUDC.csv".into()
    } else {
        format!("map the code in EUDC.csv (code {})", codes.join(", "))
    }
}

impl UdcSeen {
    pub fn clear(&mut self) {
        self.mapped = 0;
        self.unmapped.clear();
    }
}

/// Whether a CP950 double-byte code lies in a user-defined area, as the
/// contract defines them: lead 0x81–0xA0, 0xC6 (trail ≥ 0xA1)–0xC8, or
/// 0xFA–0xFE, each with a valid trail byte.
pub fn is_user_defined(lead: u8, trail: u8) -> bool {
    is_trail(trail)
        && match lead {
            0x81..=0xA0 | 0xC7 | 0xC8 | 0xFA..=0xFE => true,
            0xC6 => trail >= 0xA1,
            _ => false,
        }
}

fn is_trail(b: u8) -> bool {
    matches!(b, 0x40..=0x7E | 0xA1..=0xFE)
}

/// Where Microsoft's CP950 differs from the WHATWG big5 index `encoding_rs`
/// implements, outside the user-defined areas (found by comparing every code
/// against Python's `cp950` codec): one character differs, and 0xA3C0–0xA3E0
/// (control pictures in WHATWG) are unassigned in CP950.
const CP950_OVERRIDES: &[(u16, Option<char>)] = &[(0xF9FE, Some('\u{2593}'))];
const CP950_UNASSIGNED: std::ops::RangeInclusive<u16> = 0xA3C0..=0xA3E0;

/// Decodes fields of one batch. Built once per batch (it holds the batch's
/// `EUDC.csv`) and shared by every thread.
pub struct Decoder {
    /// Standard codes: index `(lead - 0x81) * 256 + trail`, 0 = not assigned.
    table: Vec<u32>,
    eudc: HashMap<u16, char>,
}

impl Decoder {
    pub fn new(eudc: HashMap<u16, char>) -> Decoder {
        let mut table = vec![0u32; 126 * 256];
        for lead in 0x81u8..=0xFE {
            for trail in (0x40u8..=0x7E).chain(0xA1..=0xFE) {
                if is_user_defined(lead, trail) {
                    continue;
                }
                let pair = [lead, trail];
                let (decoded, had_errors) = encoding_rs::BIG5.decode_without_bom_handling(&pair);
                if had_errors {
                    continue;
                }
                let mut chars = decoded.chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    table[index(lead, trail)] = c as u32;
                }
            }
        }
        for code in CP950_UNASSIGNED {
            table[index((code >> 8) as u8, code as u8)] = 0;
        }
        for &(code, c) in CP950_OVERRIDES {
            table[index((code >> 8) as u8, code as u8)] = c.map_or(0, |c| c as u32);
        }
        Decoder { table, eudc }
    }

    /// Decodes one raw field into `out` (cleared first), without trimming.
    pub fn decode(
        &self,
        encoding: Encoding,
        raw: &[u8],
        out: &mut String,
        udc: &mut UdcSeen,
    ) -> Result<(), InvalidBytes> {
        out.clear();
        match encoding {
            Encoding::Utf8 => self.decode_utf8(raw, out, udc),
            Encoding::Cp950 => self.decode_cp950(raw, out, udc),
        }
    }

    fn decode_utf8(
        &self,
        raw: &[u8],
        out: &mut String,
        udc: &mut UdcSeen,
    ) -> Result<(), InvalidBytes> {
        let text = std::str::from_utf8(raw).map_err(|e| {
            let start = e.valid_up_to();
            let len = e.error_len().unwrap_or(raw.len() - start);
            InvalidBytes {
                encoding: Encoding::Utf8,
                offset: start,
                bytes: raw[start..start + len].to_vec(),
            }
        })?;
        for c in text.chars() {
            if ('\u{E000}'..='\u{F8FF}').contains(&c) {
                udc.unmapped.push(format!("U+{:04X}", c as u32));
                out.push(GETA);
            } else {
                out.push(c);
            }
        }
        Ok(())
    }

    fn decode_cp950(
        &self,
        raw: &[u8],
        out: &mut String,
        udc: &mut UdcSeen,
    ) -> Result<(), InvalidBytes> {
        if raw.is_ascii() {
            // ASCII bytes are the same in CP950; most fields take this path.
            out.push_str(std::str::from_utf8(raw).expect("ASCII is UTF-8"));
            return Ok(());
        }
        let invalid = |offset: usize, len: usize| InvalidBytes {
            encoding: Encoding::Cp950,
            offset,
            bytes: raw[offset..(offset + len).min(raw.len())].to_vec(),
        };
        let mut i = 0;
        while i < raw.len() {
            let lead = raw[i];
            if lead < 0x80 {
                out.push(lead as char);
                i += 1;
                continue;
            }
            if !(0x81..=0xFE).contains(&lead) {
                return Err(invalid(i, 1));
            }
            let Some(&trail) = raw.get(i + 1) else {
                return Err(invalid(i, 1));
            };
            if !is_trail(trail) {
                return Err(invalid(i, 2));
            }
            let code = u16::from(lead) << 8 | u16::from(trail);
            if is_user_defined(lead, trail) {
                match self.eudc.get(&code) {
                    Some(&c) => {
                        udc.mapped += 1;
                        out.push(c);
                    }
                    None => {
                        udc.unmapped.push(format!("{code:04X}"));
                        out.push(GETA);
                    }
                }
            } else {
                match char::from_u32(self.table[index(lead, trail)]) {
                    Some(c) if c != '\0' => out.push(c),
                    _ => return Err(invalid(i, 2)),
                }
            }
            i += 2;
        }
        Ok(())
    }
}

fn index(lead: u8, trail: u8) -> usize {
    usize::from(lead - 0x81) * 256 + usize::from(trail)
}

/// Trims the spaces the contract says exporters leave around fields: ASCII
/// spaces and full-width spaces (U+3000).
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\u{3000}')
}

#[cfg(test)]
mod tests;
