//! Where a file's body is cut into chunks that can be parsed on their own:
//! record boundaries about every `size` bytes. The cuts depend on the bytes
//! and the size alone, never on the thread count.
//!
//! A cut must fall where the csv reader, reading the whole body in one pass,
//! is between two records; then a reader started at the cut reads the same
//! records. So the cuts are found by the reader's own rules (`csv_core`'s
//! state machine, default dialect), in one pass over the body:
//!
//! - a `"` opens a quoted field only at the start of a field: at the start
//!   of a record, or right after a `,`, CR or LF that is not inside a quoted
//!   field. Anywhere else (`他說"好`, `"a"b`) it is a literal byte of an
//!   unquoted field and changes nothing;
//! - inside a quoted field, `""` is a quote, and the next lone `"` closes it
//!   (what follows up to the next `,` or line end is still the same field);
//! - outside a quoted field, the reader ends a record at CR, LF or CRLF
//!   (and skips empty lines), but only CRLF ends one for the contract (RFC
//!   4180): the scan reads the reader's records after a CR or LF alone as
//!   parts of one record up to the next CRLF (`Loose`), and counts and
//!   rejects empty lines. So a cut goes only after a CRLF, where both agree
//!   a record ends: a cut after a CR or LF alone would split a record the
//!   one-pass scan reads whole. A CR or LF inside a quoted field is text;
//! - a reader drops a UTF-8 BOM at the very start of its input, so no cut
//!   goes right before the bytes of one (they belong to a record there).
//!
//! Counting quotes instead (an LF after an even number of them) is wrong as
//! soon as one literal quote has been met: every later quoted field looks
//! unquoted and the cut lands inside a line break of one (issue 10, item 2).
//! No CP950 trail byte is a `"`, `,`, CR or LF, so the bytes alone are enough.

/// A UTF-8 byte order mark.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A part of a file's body that starts and ends at record boundaries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chunk {
    pub from: usize,
    pub to: usize,
}

/// Record boundaries splitting `body[start..]` (`start`: where a record may
/// begin) into chunks of about `size` bytes: each cut is the first record
/// boundary at least `size` bytes into its chunk, and the last chunk is
/// never cut below half a `size`. A body too small to cut is not scanned.
pub(super) fn chunks(body: &[u8], start: usize, size: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut from = start;
    // The reader of the first chunk (and of a one-pass scan) starts at
    // `start`, so a BOM there is dropped like one at a file's start.
    let first = if body[start..].starts_with(BOM) {
        start + BOM.len()
    } else {
        start
    };
    let mut quoted = QuotedFields::new(body, first);
    while body.len() - from > size + size / 2 {
        let Some(cut) = boundary_after(body, from + size, &mut quoted) else {
            break;
        };
        if cut == body.len() {
            break;
        }
        out.push(Chunk { from, to: cut });
        from = cut;
    }
    out.push(Chunk {
        from,
        to: body.len(),
    });
    out
}

/// The first record boundary at or after `at`: just after a CRLF outside
/// every quoted field, and not right before a BOM. `quoted` must not have
/// passed a field that ends after `at`; it is moved along to where the
/// search stopped.
fn boundary_after(body: &[u8], at: usize, quoted: &mut QuotedFields<'_>) -> Option<usize> {
    let mut pos = at;
    loop {
        // The next quoted field that ends after `pos`.
        let field = loop {
            match quoted.peek() {
                Some(f) if f.end <= pos => quoted.skip(),
                other => break other,
            }
        };
        let stop = match field {
            Some(f) if f.open < pos => {
                // `pos` is inside a quoted field: go on after it.
                pos = f.end;
                continue;
            }
            Some(f) => f.open,
            None => body.len(),
        };
        // An LF whose CR is before it: at `pos` too, whose CR is then
        // outside quoted fields (a quoted field ends with its quote).
        let mut lf = pos;
        while let Some(i) = memchr::memchr(b'\n', &body[lf..stop]) {
            let cut = lf + i + 1;
            if cut >= 2 && body[cut - 2] == b'\r' && !body[cut..].starts_with(BOM) {
                return Some(cut);
            }
            lf = cut;
        }
        pos = field?.end;
    }
}

/// A quoted field: its opening quote, and the end of its closing quote
/// (the body's end if it never closes).
#[derive(Debug, Clone, Copy)]
struct Quoted {
    open: usize,
    end: usize,
    closed: bool,
}

/// Where a quoted field of the record starting at `record`, the body's
/// last, opens and never closes, if one does. The csv reader ends such a
/// field at the body's end without a word, whatever it swallowed.
pub(super) fn unclosed_quote(body: &[u8], record: usize) -> Option<usize> {
    let mut quoted = QuotedFields::new(body, record);
    let mut open = None;
    while let Some(q) = quoted.peek() {
        quoted.skip();
        open = (!q.closed).then_some(q.open);
    }
    open
}

/// The quoted fields of a body in order, found as the csv reader finds
/// them, read lazily and only once.
struct QuotedFields<'a> {
    body: &'a [u8],
    /// Where the search for the next opening quote goes on.
    pos: usize,
    /// Where the first record starts: a quote there opens a field whatever
    /// the byte before it.
    start: usize,
    next: Option<Option<Quoted>>,
}

impl<'a> QuotedFields<'a> {
    fn new(body: &'a [u8], start: usize) -> QuotedFields<'a> {
        QuotedFields {
            body,
            pos: start,
            start,
            next: None,
        }
    }

    fn peek(&mut self) -> Option<Quoted> {
        if self.next.is_none() {
            self.next = Some(self.find());
        }
        self.next.expect("just filled")
    }

    fn skip(&mut self) {
        self.next = None;
    }

    fn find(&mut self) -> Option<Quoted> {
        let body = self.body;
        loop {
            let q = self.pos + find(b'"', &body[self.pos..])?;
            self.pos = q + 1;
            // Outside quoted fields, the byte before a quote tells whether a
            // field starts there: nothing but `,`, CR or LF leaves the
            // reader at the start of a field, and a quote right after a
            // closing quote is taken by the field it closed (`""`).
            let opens = q == self.start || matches!(body[q - 1], b',' | b'\r' | b'\n');
            if !opens {
                continue;
            }
            // The closing quote: the first lone one (`""` is a quote).
            let mut at = q + 1;
            let (end, closed) = loop {
                let Some(c) = find(b'"', &body[at..]).map(|i| at + i) else {
                    break (body.len(), false);
                };
                if body.get(c + 1) == Some(&b'"') {
                    at = c + 2;
                } else {
                    break (c + 1, true);
                }
            };
            self.pos = end;
            return Some(Quoted {
                open: q,
                end,
                closed,
            });
        }
    }
}

/// Where `b` first occurs in `bytes`, looked for eight bytes at a time (a
/// word with a zero byte where `b` was): quotes are rare, and this runs over
/// every byte of a file cut into chunks.
fn find(b: u8, bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = ONES * u64::from(b);
    let mut words = bytes.chunks_exact(8);
    let mut base = 0;
    for word in words.by_ref() {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ pattern;
        // The lowest set high bit marks the first zero byte of `x` (bits
        // above it may be wrong, never the ones below).
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(base + (zeros.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|i| base + i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn find_finds_the_first(
            b in any::<u8>(),
            bytes in prop::collection::vec(any::<u8>(), 0..100),
            every in 1usize..40,
        ) {
            // Plant `b` now and then, so that it is found as often as not.
            let bytes: Vec<u8> = bytes
                .iter()
                .enumerate()
                .map(|(i, &c)| if i % every == every - 1 { b } else { c })
                .collect();
            prop_assert_eq!(find(b, &bytes), bytes.iter().position(|&c| c == b));
        }

        #[test]
        fn chunks_cover_the_body_in_order(
            bytes in prop::collection::vec(prop::sample::select(b"\"a,\r\n\xEF\xBB\xBF".to_vec()), 0..300),
            start in 0usize..10,
            size in 1usize..40,
        ) {
            let start = start.min(bytes.len());
            let chunks = chunks(&bytes, start, size);
            prop_assert_eq!(chunks[0].from, start);
            prop_assert_eq!(chunks.last().unwrap().to, bytes.len());
            for pair in chunks.windows(2) {
                prop_assert_eq!(pair[0].to, pair[1].from);
                prop_assert!(pair[0].to >= pair[0].from + size);
                // Only CRLF ends a record: a cut after a CR or LF alone
                // split a record the one-pass scan reads whole.
                prop_assert_eq!(&bytes[pair[0].to - 2..pair[0].to], b"\r\n");
            }
        }
    }
}
