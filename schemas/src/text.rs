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

#[cfg(test)]
mod tests {
    #[test]
    fn private_use_shows_as_geta() {
        assert_eq!(super::clean("陳\u{E000}明"), "陳〓明");
        assert_eq!(super::clean("王小明"), "王小明");
    }
}
