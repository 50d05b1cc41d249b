//! How the outbox keeps a message: the nightly mail as one zstd frame
//! (`items.coding = 'zstd'`); the website's mail, and whatever was queued
//! before outbox migration 7, as sent (`'identity'`).
//!
//! A night's digests and a day's reminders are the outbox's largest write,
//! and SQLite writes each byte twice (the WAL, then the checkpoint). Their
//! text parts are Chinese in base64 (plain text, reminders' HTML) or
//! quoted-printable (digests' HTML) and their calendar files base64 of
//! much the same text, so zstd makes them about half as large
//! (docs/BENCHMARKS.md, "The outbox's messages, compressed"), and about a
//! ninth with a dictionary of the message's kind ([`DICTIONARIES`], since
//! outbox migration 8, which older builds, unable to read such frames,
//! refuse; tenth measurement). Since outbox migration 9 a nightly message
//! is packed as `render` keeps it, the parts it sends as base64 written as
//! 8bit text, with its kind's second dictionary, trained on messages kept
//! so: a day's reminders pack to 10 MB instead of 21 MB in half the time
//! (fifteenth measurement); [`unpack`] gives it as sent
//! (`render::wire`), byte for byte what it was before. Every frame
//! carries zstd's checksum of its content, so a damaged row is refused,
//! never sent wrong. A message is packed where it is rendered (the night's
//! render workers, in parallel), so the single writer only writes fewer
//! bytes; it is unpacked where it is read (the sender's claim, `outbox
//! show`), so no reader outside this module sees the stored form but the
//! dictionary trainer ([`unpack_kept`]).

use std::cell::RefCell;

use super::{OutboxError, Result};
use crate::kind::Kind;

/// zstd's level 1: on the outbox's messages 271 MB/s and 3.05× on the
/// 2-core machine of docs/BENCHMARKS.md, against 165 MB/s and 3.13× at
/// the default level 3 (zlib-rs at its fastest: 167 MB/s, 2.46×).
const LEVEL: i32 = 1;

/// The zstd dictionaries messages are packed with, a kind's oldest first,
/// each with its own id (written in every frame packed with it): a message
/// is packed with its kind's newest and unpacked with the one its frame
/// names, so a dictionary, once shipped, is kept for as long as the rows
/// that need it may be; a new one (after a kind's template changes a lot)
/// is added after it, with an outbox migration (as 8 was) so that a build
/// without it refuses the outbox instead of taking its frames for damage
/// (a claim fails an item it cannot unpack). Each was trained by
/// `mail/examples/outbox-dictionary.rs` on its kind's messages of a
/// generated national night (docs/BENCHMARKS.md, tenth measurement): what
/// every message of the kind shares (headers, HTML, the calendar files'
/// lines) and the courts' names are in it, so a reminder packs about 9×
/// instead of 2×, and faster. A kind without one (approvals: too few in a
/// night to train on) is packed without.
const DICTIONARIES: &[(Kind, &[u8])] = &[
    (
        Kind::Activation,
        include_bytes!("dictionaries/activation-1.zdict"),
    ),
    (Kind::Digest, include_bytes!("dictionaries/digest-1.zdict")),
    (Kind::Expiry, include_bytes!("dictionaries/expiry-1.zdict")),
    (
        Kind::Reminder,
        include_bytes!("dictionaries/reminder-1.zdict"),
    ),
    // Outbox migration 9: trained on messages kept with their base64 parts
    // as 8bit (`render::wire`), from a generated night of seed 7, 300,000
    // cases (docs/BENCHMARKS.md, fifteenth measurement).
    (
        Kind::Activation,
        include_bytes!("dictionaries/activation-2.zdict"),
    ),
    (Kind::Digest, include_bytes!("dictionaries/digest-2.zdict")),
    (Kind::Expiry, include_bytes!("dictionaries/expiry-2.zdict")),
    (
        Kind::Reminder,
        include_bytes!("dictionaries/reminder-2.zdict"),
    ),
];

/// The dictionary a kind's new messages are packed with.
fn newest(kind: Kind) -> Option<&'static [u8]> {
    DICTIONARIES
        .iter()
        .rev()
        .find(|(k, _)| *k == kind)
        .map(|(_, d)| *d)
}

/// A dictionary's id, as the frames packed with it name it.
fn dictionary_id(dictionary: &[u8]) -> Option<std::num::NonZeroU32> {
    zstd::zstd_safe::get_dict_id_from_dict(dictionary)
}

/// The shipped dictionaries prepared for unpacking, in `DICTIONARIES`'
/// order: each loaded once (tens of microseconds each time), not once per
/// message claimed.
static PREPARED: std::sync::LazyLock<Vec<zstd::dict::DecoderDictionary<'static>>> =
    std::sync::LazyLock::new(|| {
        DICTIONARIES
            .iter()
            .map(|(_, d)| zstd::dict::DecoderDictionary::copy(d))
            .collect()
    });

thread_local! {
    /// One compressor per thread and kind, its dictionary loaded once,
    /// used for every message of the kind it packs: a new context per
    /// message (the allocation and clearing of its tables) cost more than
    /// packing a 9 KB message.
    /// (Made on the thread's first message of the kind; fails only if zstd
    /// cannot allocate its context, as a Vec that cannot grow would.)
    static COMPRESSORS: RefCell<Vec<(Kind, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(Vec::new()) };
}

/// How a message is stored (`items.coding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coding {
    /// As sent: the website's mail, and rows queued before outbox
    /// migration 7.
    Identity,
    /// One zstd frame.
    Zstd,
}

impl Coding {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Zstd => "zstd",
        }
    }

    fn parse(id: i64, value: &str) -> Result<Coding> {
        match value {
            "identity" => Ok(Coding::Identity),
            "zstd" => Ok(Coding::Zstd),
            other => Err(OutboxError::Unknown {
                id,
                what: "message coding",
                value: other.to_string(),
            }),
        }
    }
}

/// A rendered message as the outbox stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct Packed {
    stored: Vec<u8>,
    coding: Coding,
}

impl Packed {
    /// Packs a rendered message (RFC 5322 bytes) of `kind`.
    pub fn new(kind: Kind, message: &[u8]) -> Packed {
        let stored = COMPRESSORS.with_borrow_mut(|compressors| {
            let at = match compressors.iter().position(|(k, _)| *k == kind) {
                Some(at) => at,
                None => {
                    let mut c = match newest(kind) {
                        Some(d) => zstd::bulk::Compressor::with_dictionary(LEVEL, d),
                        None => zstd::bulk::Compressor::new(LEVEL),
                    }
                    .expect("zstd: out of memory");
                    // A frame damaged where it still decodes (literals,
                    // or an id turned into another shipped dictionary's)
                    // fails its checksum instead of unpacking wrong.
                    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
                        .expect("zstd: a known parameter");
                    compressors.push((kind, c));
                    compressors.len() - 1
                }
            };
            compressors[at]
                .1
                .compress(message)
                .expect("zstd: out of memory")
        });
        Packed {
            stored,
            coding: Coding::Zstd,
        }
    }

    /// Keeps a message as it is sent: the website's mail (a reset link, a
    /// "password changed"; a few a day, 7 KB each, nothing to save). A
    /// `cpor-server` of an older build refuses the outbox once it is
    /// migrated, at its mailer's next pass (each opens the outbox afresh),
    /// but a pass that opened it just before may still claim website mail
    /// without reading `coding`: it must find bytes it can send. The
    /// nightly mail, packed, is claimed only by `cpor-etl send`. So a
    /// rendered message is kept as [`crate::render::wire`] makes it, its
    /// 8bit parts base64, as every build sends it.
    /// One that cannot be (never so far) is kept as rendered, and its
    /// claim then fails it, named, as [`unpack`] does.
    pub fn plain(message: Vec<u8>) -> Packed {
        Packed {
            stored: as_sent(message).unwrap_or_else(|(message, _)| message),
            coding: Coding::Identity,
        }
    }

    /// The bytes written to `items.message`.
    pub(super) fn stored(&self) -> &[u8] {
        &self.stored
    }

    /// How `stored` is coded.
    pub(super) fn coding(&self) -> Coding {
        self.coding
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Packed({} bytes, {})",
            self.stored.len(),
            self.coding.as_str()
        )
    }
}

/// Item `id`'s message as it will be sent, from `items.message` and
/// `items.coding`. An emptied body (`outbox purge`) is empty in any coding.
/// One that cannot be written as sent ([`crate::render::wire`]: not ASCII
/// once written) is unreadable, as a damaged one is: its item fails alone,
/// named, and is never sent as it is.
pub fn unpack(id: i64, coding: &str, stored: Vec<u8>) -> Result<Vec<u8>> {
    as_sent(unpack_kept(id, coding, stored)?)
        .map_err(|(_, reason)| OutboxError::Unreadable { id, reason })
}

/// Item `id`'s message to hand to a relay: as [`unpack`], and never the
/// empty text `Outbox::purge_sent_bodies` leaves of a sent one (`show`
/// reads that as what it is; sent, it would go as an empty message).
pub fn unpack_to_send(id: i64, coding: &str, stored: Vec<u8>) -> Result<Vec<u8>> {
    if stored.is_empty() {
        return Err(OutboxError::Unreadable {
            id,
            reason: EMPTIED.into(),
        });
    }
    unpack(id, coding, stored)
}

/// Why a message whose text was deleted cannot be sent.
pub const EMPTIED: &str = "its text was deleted server.keep_sent_mail_days after it was sent, \
     or queued and never sent: it cannot be sent again";

/// `message` as sent ([`crate::render::wire`]), taken over: the same
/// bytes, not copied, when nothing is to be written; given back with the
/// reason when it cannot be sent.
fn as_sent(message: Vec<u8>) -> std::result::Result<Vec<u8>, (Vec<u8>, String)> {
    use std::borrow::Cow;
    match crate::render::wire(&message) {
        Ok(Cow::Owned(written)) => Ok(written),
        Ok(Cow::Borrowed(_)) => Ok(message),
        Err(reason) => Err((message, reason)),
    }
}

/// Item `id`'s message as rendered and kept (its base64 parts as 8bit,
/// `render::wire`): what [`Packed::new`] packed, and what a dictionary is
/// trained on (`examples/outbox-dictionary.rs`).
pub fn unpack_kept(id: i64, coding: &str, stored: Vec<u8>) -> Result<Vec<u8>> {
    if stored.is_empty() {
        return Ok(stored);
    }
    match Coding::parse(id, coding)? {
        Coding::Identity => Ok(stored),
        Coding::Zstd => unzstd(&stored).map_err(|reason| OutboxError::Unreadable { id, reason }),
    }
}

/// One zstd frame: with the dictionary it names, or none (the frames packed
/// before the outbox had dictionaries).
fn unzstd(frame: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let Some(wanted) = zstd::zstd_safe::get_dict_id_from_frame(frame) else {
        return zstd::stream::decode_all(frame).map_err(|e| e.to_string());
    };
    let dictionary = DICTIONARIES
        .iter()
        .position(|(_, d)| dictionary_id(d) == Some(wanted))
        .map(|at| &PREPARED[at])
        .ok_or_else(|| {
            format!(
                "it names zstd dictionary {wanted}, which this build of cpor does not have \
                 (packed by a newer build, or the frame is damaged)"
            )
        })?;
    let mut out = Vec::new();
    zstd::stream::Decoder::with_prepared_dictionary(frame, dictionary)
        .and_then(|mut d| d.read_to_end(&mut out))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{self, Event, Kind, NewItem, Outbox, Scope, State};
    use chrono::Utc;

    /// A digest's shape: headers, then one line per case and entry, each
    /// different (the case's number, the entry's date and text, in
    /// quoted-printable Chinese).
    fn message() -> Vec<u8> {
        let mut m = b"From: =?UTF-8?B?5Y+45rOV6Zmi?= <noreply@example.com>\r\n\r\n".to_vec();
        let words = [
            "=E5=AE=A3=E5=88=A4",
            "=E6=BA=96=E5=82=99",
            "=E8=A8=80=E8=A9=9E",
        ];
        for i in 0..60u32 {
            m.extend_from_slice(
                format!(
                    "115=E5=B9=B4=E5=BA=A6=E8=A8=B4=E5=AD=97=E7=AC=AC{}=E8=99=9F 113/{:02}/{:02} {}{}\r\n",
                    100 + i * 7,
                    1 + i % 12,
                    1 + (i * 5) % 28,
                    words[i as usize % 3],
                    words[(i as usize / 3) % 3],
                )
                .as_bytes(),
            );
        }
        m
    }

    #[test]
    fn a_packed_message_unpacks_to_the_same_bytes_and_is_smaller() {
        let m = message();
        let p = Packed::new(Kind::Digest, &m);
        assert!(
            p.stored().len() * 2 < m.len(),
            "{} of {}",
            p.stored().len(),
            m.len()
        );
        assert_eq!(p.coding(), Coding::Zstd);
        assert_eq!(
            unpack(1, p.coding().as_str(), p.stored().to_vec()).unwrap(),
            m
        );
    }

    /// A reminder as rendered: its bodies and calendar file kept as 8bit.
    fn reminder() -> Vec<u8> {
        crate::render::wire::tests::kept(
            "提醒您，您關注的案件即將開庭：\n115/12/01（二）09:30 言詞辯論\n",
            "<p>提醒您，您關注的案件即將開庭：</p>\n",
            &["BEGIN:VCALENDAR\r\nSUMMARY:言詞辯論（臺灣新北地方法院 民事 115年度簡字第33號）\r\nEND:VCALENDAR\r\n".to_string()],
        )
    }

    /// A nightly message is packed as kept (8bit) and taken out as sent
    /// (base64); one packed as sent, as builds before outbox migration 9
    /// packed every message, with the dictionary they had, is taken out
    /// as it was; the website's mail is kept as sent.
    #[test]
    fn a_message_is_packed_as_kept_and_taken_out_as_sent() {
        let kept = reminder();
        let sent = crate::render::wire(&kept).unwrap().into_owned();
        assert_ne!(kept, sent);
        let p = Packed::new(Kind::Reminder, &kept);
        assert_eq!(unpack_kept(1, "zstd", p.stored().to_vec()).unwrap(), kept);
        assert_eq!(unpack(1, "zstd", p.stored().to_vec()).unwrap(), sent);
        assert_eq!(DICTIONARIES[3].0, Kind::Reminder);
        let before = zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARIES[3].1)
            .unwrap()
            .compress(&sent)
            .unwrap();
        assert_eq!(unpack(2, "zstd", before).unwrap(), sent);
        let web = Packed::plain(kept);
        assert_eq!(web.coding(), Coding::Identity);
        assert_eq!(web.stored(), sent.as_slice());
        assert_eq!(unpack(3, "identity", web.stored().to_vec()).unwrap(), sent);
        // A row that would not be ASCII once written is unreadable, as a
        // damaged one is: never handed over to be sent.
        let unmarked = String::from_utf8(reminder()).unwrap().replace(
            "Content-Transfer-Encoding: 8bit",
            "Content-Transfer-Encoding: 7bit",
        );
        match unpack(4, "identity", unmarked.into_bytes()) {
            Err(OutboxError::Unreadable { id: 4, reason }) => {
                assert!(reason.contains("not ASCII"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Every shipped dictionary is one zstd can load, named by an id of
    /// its own; a kind's messages are packed with its newest, their frames
    /// name it, and they unpack to what was rendered; a kind without one
    /// is packed without.
    #[test]
    fn each_kind_packs_with_its_newest_dictionary_and_unpacks() {
        let ids: Vec<_> = DICTIONARIES.iter().map(|(_, d)| dictionary_id(d)).collect();
        assert!(ids.iter().all(Option::is_some), "{ids:?}");
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        let m = message();
        for kind in Kind::ALL {
            let p = Packed::new(kind, &m);
            let named = zstd::zstd_safe::get_dict_id_from_frame(p.stored());
            assert_eq!(named, newest(kind).and_then(dictionary_id), "{kind:?}");
            assert_eq!(
                unpack(1, "zstd", p.stored().to_vec()).unwrap(),
                m,
                "{kind:?}"
            );
        }
        assert!(newest(Kind::Reminder).is_some() && newest(Kind::Approval).is_none());
    }

    /// Every dictionary ever shipped: its kind, id and SHA-256.
    const PINNED: &[(Kind, u32, &str)] = &[
        (
            Kind::Activation,
            2126260853,
            "b05884ab8aa2a6e419e92d99212abefd21f7c67e0c8a5a0d7e6ed59ff614192f",
        ),
        (
            Kind::Digest,
            1690662260,
            "d6a0f0d48ea9c437e173fe831a33f936eccb43622635b7980affaafdc352c32a",
        ),
        (
            Kind::Expiry,
            151235391,
            "bf2ab3d382c73e6b6473f36f3013e926ff3adb79d88f45077c1063e9f3f301a8",
        ),
        (
            Kind::Reminder,
            1385166673,
            "9e4cc510cc66fec830b01f7d85641555e2b91f556789ac395e5a9452f57ca7a9",
        ),
        (
            Kind::Activation,
            2119493123,
            "8f8f560923fe26c6a1bfb9cd558600848573bf8de3ddbe3612c55ff9267ce244",
        ),
        (
            Kind::Digest,
            858513542,
            "b8448b91374642d63b9c32fef5823b6de0223cdfe0cc17a6fd8f574f7c5e6172",
        ),
        (
            Kind::Expiry,
            838434737,
            "31e5fb047970a3901b3ced8d0e47ec5cea4593ed5f90c0d1aef2baf1ba274248",
        ),
        (
            Kind::Reminder,
            716754074,
            "d2908aa303e9154b29a16c07099a57099c7f3518a0e1b41e8c3621b5119728a3",
        ),
    ];

    /// The shipped dictionaries are exactly these, byte for byte: one
    /// edited or removed would leave every row packed with it unreadable.
    /// A new one is added to `DICTIONARIES` and here, never in place of one.
    #[test]
    fn shipped_dictionaries_are_never_edited_or_removed() {
        use sha2::{Digest, Sha256};
        let shipped: Vec<(Kind, u32, String)> = DICTIONARIES
            .iter()
            .map(|(kind, d)| {
                let sha = schemas::hex(&Sha256::digest(d));
                (*kind, dictionary_id(d).map_or(0, |id| id.get()), sha)
            })
            .collect();
        let pinned: Vec<(Kind, u32, String)> = PINNED
            .iter()
            .map(|(kind, id, sha)| (*kind, *id, sha.to_string()))
            .collect();
        assert_eq!(shipped, pinned);
    }

    /// Frames packed before the outbox had dictionaries (no id in them)
    /// still unpack; a frame naming a dictionary this build lacks (packed
    /// by a newer build) is an error that names the item and the
    /// dictionary, never a wrong message.
    #[test]
    fn frames_without_a_dictionary_unpack_and_an_unknown_one_is_named() {
        let m = message();
        let plain = zstd::bulk::compress(&m, LEVEL).unwrap();
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&plain), None);
        assert_eq!(unpack(3, "zstd", plain).unwrap(), m);

        let samples: Vec<Vec<u8>> = (0..400)
            .map(|i| {
                format!(
                    "Subject: {i}\r\nX-Other: {}\r\n\r\n{}",
                    i * 7,
                    "本文".repeat(i % 13)
                )
                .into_bytes()
            })
            .collect();
        let other = zstd::dict::from_samples(&samples, 2048).unwrap();
        let id = dictionary_id(&other).unwrap();
        assert!(DICTIONARIES
            .iter()
            .all(|(_, d)| dictionary_id(d) != Some(id)));
        let frame = zstd::bulk::Compressor::with_dictionary(LEVEL, &other)
            .unwrap()
            .compress(&m)
            .unwrap();
        let e = unpack(9, "zstd", frame).unwrap_err().to_string();
        assert!(
            e.starts_with("outbox item 9: message unreadable")
                && e.contains(&format!("dictionary {id}")),
            "{e}"
        );
    }

    /// A stored message damaged anywhere (each byte of its frame flipped in
    /// turn) either does not unpack or unpacks to what was rendered: the
    /// frame's checksum stops a wrong message going out.
    #[test]
    fn a_damaged_frame_never_unpacks_to_another_message() {
        let m = message();
        let stored = Packed::new(Kind::Reminder, &m).stored().to_vec();
        let mut refused = 0;
        for at in 0..stored.len() {
            let mut damaged = stored.clone();
            damaged[at] ^= 0x20;
            match unpack(5, "zstd", damaged) {
                Ok(got) => assert_eq!(got, m, "byte {at} flipped gave another message"),
                Err(_) => refused += 1,
            }
        }
        assert!(refused > stored.len() / 2, "{refused} of {}", stored.len());
    }

    #[test]
    fn rows_from_before_the_migration_and_emptied_bodies_read_as_stored() {
        let m = message();
        assert_eq!(unpack(1, "identity", m.clone()).unwrap(), m);
        assert!(unpack(1, "zstd", Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_body_or_an_unknown_coding_is_an_error_naming_the_item() {
        let mut stored = Packed::new(Kind::Digest, &message()).stored().to_vec();
        let last = stored.len() - 1;
        stored.truncate(last);
        let e = unpack(7, "zstd", stored).unwrap_err().to_string();
        assert!(e.starts_with("outbox item 7: message unreadable"), "{e}");
        let e = unpack(8, "gzip", b"x".to_vec()).unwrap_err().to_string();
        assert!(e.contains("item 8") && e.contains("gzip"), "{e}");
    }

    /// An outbox from before migration 7 keeps sending what it holds, byte
    /// for byte; a night's mail queued after it is stored packed and sent
    /// as rendered; the website's is stored as sent, so that an older
    /// server still running (reading `message` without `coding`) sends it
    /// right; `show` tells them apart.
    #[test]
    fn an_outbox_from_before_the_migration_sends_old_and_new_messages_as_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(outbox::OUTBOX_DB);
        let old = message();
        {
            let conn = schemas::open_migrated(&path, &schemas::OUTBOX_MIGRATIONS[..6]).unwrap();
            conn.execute(
                "INSERT INTO items (night, email, kind, state, message_id, subject, message,
                 cases, queued_at, not_before, ref)
                 VALUES ('20261130', 'old@example.com', 'digest', 'queued', '<old@x>', 's', ?1,
                 0, '2026-11-30T00:00:00+00:00', '2026-11-30T00:00:00+00:00', '')",
                [&old],
            )
            .unwrap();
        }
        let now = Utc::now();
        let nightly = [old.as_slice(), b"\r\nafter the migration\r\n"].concat();
        let website = [old.as_slice(), b"\r\nfrom the website\r\n"].concat();
        let item = |email: &str, kind, message| NewItem {
            email: email.into(),
            kind,
            message_id: format!("<{email}>"),
            subject: "s".into(),
            message,
            cases: 0,
            case_keys: Vec::new(),
            behind: None,
        };
        let mut ob = Outbox::open(dir.path()).unwrap();
        let night = ob.begin_night(now.date_naive(), "", now).unwrap();
        let digest = item(
            "night@example.com",
            Kind::Digest,
            Packed::new(Kind::Digest, &nightly),
        );
        assert!(night.add(&digest, State::Queued, now).unwrap());
        night.commit(None).unwrap();
        let reset = item(
            "web@example.com",
            Kind::Reset,
            Packed::plain(website.clone()),
        );
        let conn = outbox::open(dir.path()).unwrap();
        outbox::queue_website(&conn, &reset, now.date_naive(), "w", now).unwrap();
        // A packed message is not website mail.
        let packed = item(
            "web2@example.com",
            Kind::Reset,
            Packed::new(Kind::Reset, &website),
        );
        assert!(matches!(
            outbox::queue_website(&conn, &packed, now.date_naive(), "p", now),
            Err(OutboxError::Misqueued { .. })
        ));

        let stored: Vec<(String, String, Vec<u8>)> = conn
            .prepare("SELECT email, coding, message FROM items ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let codings: Vec<(&str, &str)> = stored
            .iter()
            .map(|(e, c, _)| (e.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            codings,
            [
                ("old@example.com", "identity"),
                ("night@example.com", "zstd"),
                ("web@example.com", "identity")
            ]
        );
        assert!(
            stored[1].2.len() * 3 < nightly.len(),
            "{}",
            stored[1].2.len()
        );
        // What an older build's mailer reads is what it must send.
        assert_eq!(stored[2].2, website);

        let mut ob = Outbox::open_for_sending(dir.path()).unwrap();
        let mut sent = Vec::new();
        for scope in [Scope::Nightly, Scope::Website] {
            let ids = ob.due(scope, now, true).unwrap();
            let claimed = ob.claim(&ids, now, |_| Some(Event::Claim)).unwrap();
            sent.extend(claimed.items.into_iter().map(|i| (i.email, i.message)));
        }
        assert_eq!(
            sent,
            [
                ("old@example.com".to_string(), old.clone()),
                ("night@example.com".to_string(), nightly.clone()),
                ("web@example.com".to_string(), website.clone()),
            ]
        );
        let stored_field = |ob: &Outbox, id| {
            let shown = ob.show(id).unwrap().unwrap();
            let field = shown.fields.iter().find(|(n, _)| *n == "stored").unwrap();
            (field.1.clone(), shown.message.unwrap())
        };
        assert_eq!(
            stored_field(&ob, 2),
            (format!("{} bytes, zstd", stored[1].2.len()), nightly)
        );
        // Delivered, and its body emptied after the days it is kept.
        ob.record(
            &outbox::Recorded {
                id: 2,
                event: Event::Accepted,
                error: None,
                next_try: None,
                unknown_outcome: false,
            },
            now,
        )
        .unwrap();
        assert_eq!(ob.settle(Scope::Nightly).unwrap(), 1);
        assert_eq!(
            ob.purge_sent_bodies(now + chrono::Duration::seconds(1))
                .unwrap(),
            1
        );
        assert_eq!(
            stored_field(&ob, 2),
            ("0 bytes, identity".to_string(), Vec::new())
        );
    }

    /// What `purge_sent_bodies` leaves is never handed over as a message
    /// (a review of the outbox: a retried item whose text was deleted went
    /// as an empty message and was marked sent), though `show` still reads
    /// it as the empty text it is.
    #[test]
    fn a_deleted_text_is_never_a_message_to_send() {
        let e = unpack_to_send(7, "identity", Vec::new()).unwrap_err();
        assert!(
            matches!(&e, OutboxError::Unreadable { id: 7, reason } if reason == EMPTIED),
            "{e}"
        );
        assert_eq!(unpack(7, "identity", Vec::new()).unwrap(), b"");
        let m = message();
        assert_eq!(unpack_to_send(1, "identity", m.clone()).unwrap(), m);
    }
}
