//! `EUDC.csv`: the batch's map from CP950 user-defined codes to the
//! characters they stand for (UTF-8, header `big5,unicode`, e.g. `FA40,29E3D`).

use std::collections::HashMap;
use std::path::Path;

use super::is_user_defined;
use super::lines::LineCounter;

/// A line of `EUDC.csv` that could not be used; the rest of the file still is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EudcError {
    pub line: u64,
    pub reason: String,
}

/// Reads `EUDC.csv` if the batch has one. Bad lines are returned, not fatal:
/// an unusable mapping only means that character shows as 〓.
pub fn load_eudc(path: &Path) -> std::io::Result<(HashMap<u16, char>, Vec<EudcError>)> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse_eudc(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((HashMap::new(), Vec::new())),
        Err(e) => Err(e),
    }
}

pub fn parse_eudc(bytes: &[u8]) -> (HashMap<u16, char>, Vec<EudcError>) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut map = HashMap::new();
    let mut errors = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let mut first = true;
    let mut lines = LineCounter::from(0);
    loop {
        let line = lines.line_at(bytes, reader.position().byte() as usize);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                errors.push(EudcError {
                    line,
                    reason: format!("not UTF-8 CSV: {e}"),
                });
                // The csv reader cannot resume after an encoding error inside
                // a record reliably; keep what was read so far.
                if e.is_io_error() {
                    break;
                }
                continue;
            }
        }
        let line = record
            .position()
            .map_or(line, |p| lines.line_at(bytes, p.byte() as usize));
        let fields: Vec<&str> = record.iter().map(str::trim).collect();
        if std::mem::take(&mut first) {
            if fields != ["big5", "unicode"] {
                errors.push(EudcError {
                    line,
                    reason: format!(
                        "header must be `big5,unicode`, found `{}`",
                        fields.join(",")
                    ),
                });
                return (HashMap::new(), errors);
            }
            continue;
        }
        match parse_line(&fields) {
            Ok((code, c)) => {
                if let Some(old) = map.insert(code, c) {
                    if old != c {
                        errors.push(EudcError {
                            line,
                            reason: format!(
                                "{code:04X} mapped again, to U+{:04X}; the later line stands",
                                c as u32
                            ),
                        });
                    }
                }
            }
            Err(reason) => errors.push(EudcError { line, reason }),
        }
    }
    (map, errors)
}

fn parse_line(fields: &[&str]) -> Result<(u16, char), String> {
    let [big5, unicode] = fields else {
        return Err(format!("expected 2 fields, found {}", fields.len()));
    };
    let code = u16::from_str_radix(big5, 16)
        .ok()
        .filter(|_| big5.len() == 4)
        .ok_or_else(|| format!("big5 `{big5}` is not four hex digits"))?;
    if !is_user_defined((code >> 8) as u8, code as u8) {
        return Err(format!("big5 {code:04X} is not a user-defined code"));
    }
    let scalar = u32::from_str_radix(unicode.trim_start_matches("U+"), 16)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(|| format!("unicode `{unicode}` is not a Unicode scalar value in hex"))?;
    Ok((code, scalar))
}
