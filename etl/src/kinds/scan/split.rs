//! Where a file's body is cut into chunks that can be parsed on their own:
//! record boundaries about every `size` bytes. The cuts depend on the bytes
//! and the size alone, never on the thread count.

/// A part of a file's body that starts and ends at record boundaries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chunk {
    pub from: usize,
    pub to: usize,
}

/// Record boundaries splitting `body[start..]` into chunks of about `size`
/// bytes: a line feed with an even number of quotes before it ends a
/// record (RFC 4180 quotes come in pairs; no CP950 trail byte is a quote).
pub(super) fn chunks(body: &[u8], start: usize, size: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut from = start;
    let mut quotes = 0usize;
    while body.len() - from > size + size / 2 {
        let at = from + size;
        let mut odd = (quotes + count(&body[from..at], b'"')) % 2 == 1;
        let mut split = None;
        for (i, &b) in body[at..].iter().enumerate() {
            match b {
                b'"' => odd = !odd,
                b'\n' if !odd => {
                    split = Some(at + i + 1);
                    break;
                }
                _ => {}
            }
        }
        let Some(split) = split else { break };
        out.push(Chunk { from, to: split });
        quotes += count(&body[from..split], b'"');
        from = split;
    }
    out.push(Chunk {
        from,
        to: body.len(),
    });
    out
}

/// How often `b` occurs in `bytes`. Summed in blocks of 32 into a byte
/// counter, which the compiler turns into wide compares and adds.
pub(super) fn count(bytes: &[u8], b: u8) -> usize {
    let blocks = bytes.chunks_exact(32);
    let tail = blocks.remainder().iter().filter(|&&c| c == b).count();
    blocks
        .map(|block| block.iter().map(|&c| u8::from(c == b)).sum::<u8>() as usize)
        .sum::<usize>()
        + tail
}
