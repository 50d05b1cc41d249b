//! Message bodies as the outbox keeps them: what lettre's `Body::new`
//! sends for a `String`, for a fraction of its time (a national night
//! renders about 150,000 bodies, 400 MB), except that a body `Body::new`
//! would send as base64 is kept as the bytes it would encode, marked
//! `8bit`; [`super::wire`] encodes those when a message is taken out to be
//! sent, so what is sent is what `Body::new` sends. Kept as 8bit, the
//! Chinese text is a quarter smaller and packs (zstd, a dictionary trained
//! on it) into half the bytes in half the time (docs/BENCHMARKS.md,
//! fourteenth and fifteenth measurements).
//!
//! `Body::new` chooses the transfer encoding on the text as given (7bit,
//! quoted-printable or base64: email-encoding 0.4's `Encoding::choose(text,
//! false)`), turns LF into CRLF by inserting each CR in place (moving the
//! rest of the text once per line), and encodes (quoted_printable 0.5's
//! `encode`, email-encoding's base64 at 76 columns). Here the same choice is
//! made in one pass; quoted-printable is the same algorithm over bytes,
//! reading the LF text directly, and base64 encodes the CRLF copy a line at
//! a time with the `base64` crate email-encoding uses, into one buffer. The
//! tests compare every result, as sent, with lettre's own, byte for byte; a
//! lettre upgrade that changed its output would fail them rather than
//! change what is sent.

use lettre::message::header::ContentTransferEncoding;
use lettre::message::Body;

/// A body, byte for byte as `Body::new(text)` makes it, but that one
/// `Body::new` would make base64 is the CRLF text it would encode, marked
/// `8bit` (sent as base64: [`super::wire`]).
pub fn body(text: String) -> Body {
    match choose(&text) {
        ContentTransferEncoding::QuotedPrintable => Body::dangerous_pre_encoded(
            quoted_printable(text.as_bytes()),
            ContentTransferEncoding::QuotedPrintable,
        ),
        ContentTransferEncoding::Base64 => {
            Body::dangerous_pre_encoded(crlf(&text).into_bytes(), ContentTransferEncoding::EightBit)
        }
        // Short ASCII lines, stored as they are: nothing to save.
        _ => Body::new(text),
    }
}

/// A text attachment (a calendar file), byte for byte as
/// `Body::new(text.as_bytes().to_vec())` makes it, but kept as its bytes,
/// marked `8bit`, where that is base64: bytes with any non-ASCII byte,
/// line ends as they are (email-encoding takes them for binary). ASCII is
/// left to lettre (rare here: a calendar file names its court in Chinese).
pub fn attachment(text: &str) -> Body {
    if text.is_ascii() {
        return Body::new(text.as_bytes().to_vec());
    }
    Body::dangerous_pre_encoded(text.as_bytes().to_vec(), ContentTransferEncoding::EightBit)
}

/// The encoding `Body::new` chooses for a `String`: 7bit for ASCII whose
/// lines are short enough (as email-encoding measures them, LF counted),
/// else quoted-printable when at most a third of the bytes are not
/// printable ASCII (tab and space are), else base64.
fn choose(text: &str) -> ContentTransferEncoding {
    let b = text.as_bytes();
    let mut last = 0;
    let too_long = text
        .match_indices('\n')
        .any(|(i, _)| (i - std::mem::replace(&mut last, i)) >= 76)
        || (b.len() - last) >= 76;
    if b.is_ascii() && !too_long {
        return ContentTransferEncoding::SevenBit;
    }
    let escaped = b
        .iter()
        .filter(|&&c| !matches!(c, b'\t' | b' '..=b'~'))
        .count();
    if escaped <= b.len() / 3 {
        ContentTransferEncoding::QuotedPrintable
    } else {
        ContentTransferEncoding::Base64
    }
}

/// Every LF not already after a CR gets one.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut rest = text;
    while let Some(i) = rest.find('\n') {
        out.push_str(&rest[..i]);
        if !out.ends_with('\r') {
            out.push('\r');
        }
        out.push('\n');
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

const LIMIT: usize = 76;
const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn needs_encoding(c: u8) -> bool {
    !matches!(c, b'\t' | b' '..=b'<' | b'>'..=b'~')
}

/// quoted_printable 0.5's `encode` (text mode, 76 columns) of `crlf(input)`,
/// step for step: a line break stays one (CRLF), a lone CR is `=0D`, a space
/// or tab before a line break is encoded, soft breaks keep lines within 76
/// columns. Every LF is a line break (`crlf` puts a CR before each LF that
/// lacks one), so the conversion is not needed first.
fn quoted_printable(input: &[u8]) -> Vec<u8> {
    struct Out {
        buf: Vec<u8>,
        on_line: usize,
        /// Where the last thing appended starts.
        backup: usize,
    }
    impl Out {
        fn append(&mut self, piece: &[u8]) {
            if self.on_line + piece.len() > LIMIT {
                if self.on_line == LIMIT {
                    // No room even for the `=`: break before the last thing.
                    self.on_line = self.buf.len() - self.backup;
                    self.buf.splice(self.backup..self.backup, *b"=\r\n");
                } else {
                    self.buf.extend_from_slice(b"=\r\n");
                    self.on_line = 0;
                }
            }
            self.buf.extend_from_slice(piece);
            self.on_line += piece.len();
            self.backup = self.buf.len() - piece.len();
        }
        fn byte(&mut self, c: u8) {
            if needs_encoding(c) {
                self.append(&[b'=', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            } else {
                self.append(&[c]);
            }
        }
        fn trailing_space_tab(&mut self) {
            match self.buf.last() {
                Some(b' ') => {
                    self.on_line -= 1;
                    self.buf.pop();
                    self.append(b"=20");
                }
                Some(b'\t') => {
                    self.on_line -= 1;
                    self.buf.pop();
                    self.append(b"=09");
                }
                _ => {}
            }
        }
    }
    let mut out = Out {
        buf: Vec::with_capacity(input.len() + input.len() / 4),
        on_line: 0,
        backup: 0,
    };
    let mut was_cr = false;
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        i += 1;
        if c == b'\n' {
            was_cr = false;
            out.trailing_space_tab();
            out.buf.extend_from_slice(b"\r\n");
            out.on_line = 0;
            continue;
        }
        if was_cr {
            was_cr = false;
            out.append(b"=0D");
        }
        if c == b'\r' {
            was_cr = true;
            continue;
        }
        if LIMIT - out.on_line >= 3 && !needs_encoding(c) {
            // A run of bytes that stand for themselves, up to two columns
            // short of the limit.
            let max = LIMIT - out.on_line - 2;
            let run = 1 + input[i..]
                .iter()
                .take(max - 1)
                .take_while(|&&c| !needs_encoding(c))
                .count();
            out.buf.extend_from_slice(&input[i - 1..i - 1 + run]);
            i += run - 1;
            out.on_line += run;
            out.backup = out.buf.len();
            continue;
        }
        out.byte(c);
    }
    if was_cr {
        out.append(b"=0D");
    } else {
        out.trailing_space_tab();
    }
    out.buf
}

/// email-encoding 0.4's base64 body: standard alphabet with padding, 57
/// bytes (76 characters) a line, lines joined by CRLF, no CRLF at the end.
/// Each line is encoded by the `base64` crate lettre's own encoder uses
/// (a 57-byte line is 19 whole groups: only the last line pads).
pub(super) fn base64(input: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let engine = &base64::engine::general_purpose::STANDARD;
    let lines = input.len().div_ceil(57);
    let mut out = vec![0; input.len().div_ceil(3) * 4 + lines.saturating_sub(1) * 2];
    let mut at = 0;
    for (n, line) in input.chunks(57).enumerate() {
        if n > 0 {
            out[at..at + 2].copy_from_slice(b"\r\n");
            at += 2;
        }
        at += engine
            .encode_slice(line, &mut out[at..])
            .expect("the buffer is sized for every line");
    }
    debug_assert_eq!(at, out.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lettre(text: &str) -> (ContentTransferEncoding, Vec<u8>) {
        let b = Body::new(text.to_string());
        (b.encoding(), b.into_vec())
    }

    /// A body as sent: an `8bit` one base64, as [`super::super::wire`]
    /// writes it.
    fn sent(b: Body) -> (ContentTransferEncoding, Vec<u8>) {
        match b.encoding() {
            ContentTransferEncoding::EightBit => {
                (ContentTransferEncoding::Base64, base64(&b.into_vec()))
            }
            other => (other, b.into_vec()),
        }
    }

    fn ours(text: &str) -> (ContentTransferEncoding, Vec<u8>) {
        sent(body(text.to_string()))
    }

    #[test]
    fn edge_cases_are_encoded_as_lettre_encodes_them() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "\n".into(),
            "\r".into(),
            "\r\n\n\r".into(),
            "a\r\nb\nc\rd\n".into(),
            "行尾空白 \n\t\n=\n 結尾 ".into(),
            "全形\r".into(),
            "=".repeat(80),
            "é".repeat(60),
        ];
        // Lines around the lengths where 7bit stops being enough and where
        // quoted-printable must break, with spaces, tabs and escapes there.
        for n in 70..80 {
            let (x, y) = ("x".repeat(n), "y".repeat(n));
            cases.extend([
                format!("{x}\n"),
                format!("{x}\n{y}"),
                format!("a\n{x}\n{y}\n"),
                format!("{x}\r\n{y}\r\n"),
                format!("{x} \n{y}\t\n"),
                format!("{x}=\n{y}é\n"),
                format!("{x}é{y}"),
                format!("{x}\r{y}"),
            ]);
        }
        for text in &cases {
            assert_eq!(ours(text), lettre(text), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text made of the pieces that matter: line ends, long runs,
        /// spaces and tabs, `=`, non-ASCII.
        #[test]
        fn any_body_is_encoded_as_lettre_encodes_it(
            pieces in prop::collection::vec(
                prop_oneof![
                    Just("\n".to_string()),
                    Just("\r".to_string()),
                    Just("\r\n".to_string()),
                    Just(" ".to_string()),
                    Just("\t".to_string()),
                    Just("=".to_string()),
                    "[a-z<>\"/.:;]{1,30}",
                    "[宣判開庭準備程序é]{1,12}",
                    (1usize..90).prop_map(|n| "x".repeat(n)),
                ],
                0..40,
            )
        ) {
            let text = pieces.concat();
            prop_assert_eq!(ours(&text), lettre(&text));
        }

        /// Attachments as lettre encodes bytes: calendar files' CRLF lines,
        /// and any other line ends.
        #[test]
        fn any_attachment_is_encoded_as_lettre_encodes_its_bytes(
            pieces in prop::collection::vec(
                prop_oneof![
                    6 => Just("\r\n".to_string()),
                    1 => Just("\n".to_string()),
                    1 => Just("\r".to_string()),
                    2 => Just(" ".to_string()),
                    1 => Just("=".to_string()),
                    4 => "[A-Z:;=/0-9T]{1,30}",
                    3 => "[臺灣臺北地方法院言詞辯論第一法庭]{1,20}",
                    1 => (1usize..90).prop_map(|n| "x".repeat(n)),
                ],
                0..60,
            )
        ) {
            let text = pieces.concat();
            let lettre = Body::new(text.as_bytes().to_vec());
            prop_assert_eq!(
                sent(attachment(&text)),
                (lettre.encoding(), lettre.into_vec())
            );
        }

        #[test]
        fn any_bytes_in_base64_are_as_email_encoding_writes_them(
            bytes in prop::collection::vec(any::<u8>(), 0..400)
        ) {
            let lettre = Body::new_with_encoding(bytes.clone(), ContentTransferEncoding::Base64)
                .unwrap();
            prop_assert_eq!(base64(&bytes), lettre.into_vec());
        }
    }
}
