//! How an outbox's messages pack (`mail/src/outbox/packed.rs`) and what
//! other ways of packing them would give, kind by kind:
//!
//!     cargo run --release -p mail --example outbox-packing -- \
//!         OUTBOX.sqlite [KIND ...]
//!
//! KIND: `reminder` and `digest` unless given. For each kind, its messages
//! as sent (`outbox::unpack`: the parts base64, as every build sends them),
//! then each way of packing all of them, best of five passes on one
//! thread, with the bytes packed:
//! - `sent, first`: as builds before outbox migration 9 packed them (zstd
//!   level 1, the kind's first dictionary, a checksum);
//! - `attach`, `copy`: the same with zstd told to attach the dictionary's
//!   tables, or to copy them, whatever the message's size (zstd copies
//!   them for a message over 8 KiB at level 1);
//! - `level 2`, `level -1`: other levels, the first dictionary;
//! - `sent, retrained`: a dictionary trained on 2,000 of these messages
//!   (every n-th), the first one's size;
//! - `8bit, first`, `8bit, newest`, `8bit, retrained`: the messages with
//!   every base64 part written as its 8bit text instead, as `render` keeps
//!   them since migration 9, packed with the first dictionary, the kind's
//!   newest (what `Packed::new` packs with) and one trained on them. Lines
//!   longer than RFC 5322's 998 octets, which 8bit could not carry on the
//!   wire, are counted (the outbox keeps them; `render::wire` sends
//!   base64).
//!
//! Run on a generated night's outbox (`cpor-etl import` of the national
//! batch, then `send --today 2026-11-30` with the window closed, as
//! docs/BENCHMARKS.md's fourteenth and fifteenth measurements did); the
//! dictionaries trained here are not written anywhere
//! (`outbox-dictionary` does that).

use std::process::ExitCode;
use std::time::Instant;

use zstd::zstd_safe::{CParameter, DictAttachPref};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(outbox) = args.first() else {
        eprintln!("usage: outbox-packing OUTBOX.sqlite [KIND ...]");
        return ExitCode::from(2);
    };
    let kinds: Vec<&str> = if args.len() > 1 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        vec!["reminder", "digest"]
    };
    let conn =
        rusqlite::Connection::open_with_flags(outbox, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the outbox opens");
    for kind in kinds {
        let mut stmt = conn
            .prepare("SELECT id, coding, message FROM items WHERE kind = ?1 ORDER BY id")
            .expect("items");
        let messages: Vec<Vec<u8>> = stmt
            .query_map([kind], |r| {
                Ok((r.get(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .expect("items")
            .map(|r| {
                let (id, coding, stored) = r.expect("an item");
                mail::outbox::unpack(id, &coding, stored).expect("a readable message")
            })
            .collect();
        if messages.is_empty() {
            println!("{kind}: no messages");
            continue;
        }
        let (Some(first), Some(newest)) = (
            shipped_dictionary(kind, true),
            shipped_dictionary(kind, false),
        ) else {
            println!("{kind}: no shipped dictionary");
            continue;
        };
        let eight: Vec<Vec<u8>> = messages.iter().map(|m| eight_bit(m)).collect();
        let too_long = eight.iter().filter(|m| longest_line(m) > 998).count();
        println!(
            "{kind}: {} messages, {:.1} MB ({} over 8 KiB); 8bit: {:.1} MB, {too_long} with a line over 998 octets",
            messages.len(),
            mb(messages.iter().map(Vec::len).sum()),
            messages.iter().filter(|m| m.len() > 8192).count(),
            mb(eight.iter().map(Vec::len).sum()),
        );
        let retrained = train(&messages, first.len());
        let retrained_8bit = train(&eight, first.len());
        // (name, the messages as 8bit, dictionary, level, attaching)
        let ways = [
            Way("sent, first", false, &first, 1, None),
            Way(
                "attach",
                false,
                &first,
                1,
                Some(DictAttachPref::ForceAttach),
            ),
            Way("copy", false, &first, 1, Some(DictAttachPref::ForceCopy)),
            Way("level 2", false, &first, 2, None),
            Way("level -1", false, &first, -1, None),
            Way("sent, retrained", false, &retrained, 1, None),
            Way("8bit, first", true, &first, 1, None),
            Way("8bit, newest", true, &newest, 1, None),
            Way("8bit, retrained", true, &retrained_8bit, 1, None),
        ];
        println!(
            "  {:<16} {:>9} {:>11} {:>10}",
            "packing", "ms", "packed, MB", "µs each"
        );
        for Way(name, as_8bit, dictionary, level, attach) in ways {
            let set = if as_8bit { &eight } else { &messages };
            let (seconds, packed) = pack_all(set, dictionary, level, attach);
            println!(
                "  {name:<16} {:>9.1} {:>11.2} {:>10.2}",
                seconds * 1e3,
                mb(packed),
                seconds * 1e6 / set.len() as f64
            );
        }
    }
    ExitCode::SUCCESS
}

/// One way of packing: its name, whether the messages are taken as 8bit,
/// the dictionary, the level and how zstd uses the dictionary.
struct Way<'a>(&'static str, bool, &'a [u8], i32, Option<DictAttachPref>);

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// The kind's first (`first`) or newest dictionary in
/// `mail/src/outbox/dictionaries/`.
fn shipped_dictionary(kind: &str, first: bool) -> Option<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/outbox/dictionaries");
    let mut shipped = (1..100)
        .map(|n| dir.join(format!("{kind}-{n}.zdict")))
        .take_while(|p| p.exists());
    let path = if first {
        shipped.next()
    } else {
        shipped.last()
    }?;
    Some(std::fs::read(path).expect("the dictionary reads"))
}

fn train(messages: &[Vec<u8>], size: usize) -> Vec<u8> {
    let samples: Vec<&[u8]> = messages
        .iter()
        .step_by(messages.len().div_ceil(2000).max(1))
        .map(Vec::as_slice)
        .collect();
    let continuous: Vec<u8> = samples.concat();
    let sizes: Vec<usize> = samples.iter().map(|s| s.len()).collect();
    zstd::dict::from_continuous(&continuous, &sizes, size).expect("zstd trains")
}

/// Packs every message, best of five passes: (seconds, bytes packed).
fn pack_all(
    messages: &[Vec<u8>],
    dictionary: &[u8],
    level: i32,
    attach: Option<DictAttachPref>,
) -> (f64, usize) {
    let mut c = zstd::bulk::Compressor::with_dictionary(level, dictionary).expect("zstd");
    c.set_parameter(CParameter::ChecksumFlag(true))
        .expect("a known parameter");
    if let Some(attach) = attach {
        c.set_parameter(CParameter::ForceAttachDict(attach))
            .expect("a known parameter");
    }
    let mut best = f64::MAX;
    let mut packed = 0;
    for _ in 0..5 {
        let started = Instant::now();
        packed = messages
            .iter()
            .map(|m| c.compress(m).expect("zstd packs").len())
            .sum();
        best = best.min(started.elapsed().as_secs_f64());
    }
    (best, packed)
}

/// The message with each base64 part written out as its text, marked
/// `8bit`; a part whose bytes are not UTF-8 text stays base64.
fn eight_bit(message: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(message) else {
        return message.to_vec();
    };
    let mut out = String::with_capacity(text.len());
    let mut in_header = false;
    // Where the part's `8bit` was written, while its body is read.
    let mut marked = 0;
    let mut encoded: Option<String> = None;
    for line in text.split("\r\n") {
        if let Some(body) = encoded.as_mut() {
            if !line.starts_with("--") && !line.is_empty() {
                body.push_str(line);
                continue;
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match decoded {
                Some(text) => out.push_str(&text),
                None => {
                    out.replace_range(marked..marked + 4, "base64");
                    out.push_str(body);
                }
            }
            out.push_str("\r\n");
            encoded = None;
        }
        if line.eq_ignore_ascii_case("Content-Transfer-Encoding: base64") {
            in_header = true;
            out.push_str("Content-Transfer-Encoding: ");
            marked = out.len();
            out.push_str("8bit\r\n");
            continue;
        }
        if line.is_empty() && in_header {
            in_header = false;
            encoded = Some(String::new());
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.truncate(out.len() - 2);
    out.into_bytes()
}

fn longest_line(message: &[u8]) -> usize {
    message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
        .max()
        .unwrap_or(0)
}
