//! Physical line numbers of CSV records, for the messages that name a
//! file's line: the data files' rows (`kinds::scan`) and `EUDC.csv`'s.
//! The csv reader's own line count lags behind with CRLF line ends, the
//! contract's, so lines are counted from byte offsets. A line is what an
//! LF ends: a data file's lines end in CRLF (one whose header line does
//! not is refused, `kinds::scan::FileError::LineEnd`), and a CR alone is
//! text of a record rejected for it, which begins no line of its own.

/// The line of each record, counted as records come (offsets only grow):
/// 1 + the line feeds before the record's first byte, where a record's
/// start offset may point at the line end of the record before it.
pub struct LineCounter {
    offset: usize,
    feeds: u64,
}

impl LineCounter {
    /// Counting from byte `offset`, whose line is the first.
    pub fn from(offset: usize) -> LineCounter {
        LineCounter { offset, feeds: 0 }
    }

    /// The line that holds byte `at` of `body` (at or after the last
    /// offset asked for): an empty line's, a stray quote's.
    pub fn line_of(&mut self, body: &[u8], at: usize) -> u64 {
        let at = at.min(body.len()).max(self.offset);
        self.feeds += count(&body[self.offset..at], b'\n') as u64;
        self.offset = at;
        self.feeds + 1
    }

    /// The line of the record starting at byte `start` of `body` (at or
    /// after the last one asked for).
    pub fn line_at(&mut self, body: &[u8], start: usize) -> u64 {
        let start = start.min(body.len());
        let first = body[start..]
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .map_or(body.len(), |p| start + p);
        self.line_of(body, first)
    }
}

/// How often `b` occurs in `bytes`. Summed in blocks of 32 into a byte
/// counter, which the compiler turns into wide compares and adds.
pub fn count(bytes: &[u8], b: u8) -> usize {
    let blocks = bytes.chunks_exact(32);
    let tail = blocks.remainder().iter().filter(|&&c| c == b).count();
    blocks
        .map(|block| block.iter().map(|&c| u8::from(c == b)).sum::<u8>() as usize)
        .sum::<usize>()
        + tail
}
