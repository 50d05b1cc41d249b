//! How text reaches people. A user-defined character nobody mapped (a CP950
//! code without an `EUDC.csv` row, or a private-use code point in a UTF-8
//! file) is shown as 〓, as the contract says; `clean` applies that again at
//! every place text leaves the system (mail, pages, API), as defence in
//! depth: the decoder already maps them so.

/// 〓 (U+3013, GETA MARK): the contract's stand-in for an unknown character.
pub const GETA: char = '\u{3013}';

/// What mail and pages that show 〓 say of it: it reads as broken data.
pub const GETA_NOTE: &str = "「〓」是本服務無法顯示的罕用字，請以法院的文書為準。";

/// [`GETA_NOTE`], if any of `texts` shows 〓.
pub fn geta_note<'a>(mut texts: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    texts.any(|t| t.contains(GETA)).then_some(GETA_NOTE)
}

/// Private-use code points (U+E000–U+F8FF) shown as 〓.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if ('\u{E000}'..='\u{F8FF}').contains(&c) {
                GETA
            } else {
                c
            }
        })
        .collect()
}

/// A full-width letter, digit or sign (U+FF01–U+FF5E), as a Chinese input
/// method types it in full-width mode, as the ASCII one it looks like; any
/// other character as it is.
pub fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        c => c,
    }
}

/// A court division (股別) by its name alone, however the court wrote it:
/// courts export `忠` or `孝股` (the contract allows 0–4 characters), the
/// API says `忠` and `孝`; empty when the court gives none.
pub fn division_name(d: &str) -> String {
    let d = clean(d);
    let d = d.trim();
    match d {
        "—" => String::new(),
        d => d.strip_suffix('股').unwrap_or(d).trim().to_string(),
    }
}

/// 股別 as people say it, `忠股` (from `忠` or `忠股` alike); `None` when the
/// court gives none.
pub fn division(d: &str) -> Option<String> {
    Some(division_name(d))
        .filter(|name| !name.is_empty())
        .map(|name| format!("{name}股"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_division_is_said_one_way_however_the_court_wrote_it() {
        for written in ["忠", "忠股", " 忠股 "] {
            assert_eq!(
                super::division(written).as_deref(),
                Some("忠股"),
                "{written}"
            );
            assert_eq!(super::division_name(written), "忠", "{written}");
        }
        for none in ["", " ", "—"] {
            assert_eq!(super::division(none), None, "{none:?}");
        }
        assert_eq!(super::division("\u{E000}").as_deref(), Some("〓股"));
    }

    #[test]
    fn private_use_shows_as_geta() {
        assert_eq!(super::clean("陳\u{E000}明"), "陳〓明");
        assert_eq!(super::clean("王小明"), "王小明");
    }
}
