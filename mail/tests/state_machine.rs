//! The outbox's state machine against a small model: random histories of
//! queueing, claiming, outcomes (recorded, then settled), crashes, releases,
//! retries, stored messages damaged, later nights' mail withholding earlier
//! grant mail and telling its cases in mail of its own (which `outbox
//! retry` of a told item follows, queueing it again only if it surely did
//! not go), and time passing,
//! played on a real outbox database through `mail::outbox` and on a literal
//! model side by side. A nightly sender may claim in an order its
//! connections keep (`Outbox::claim_for`); a crash then gives back what no
//! connection can have taken, and never what one did. After every step the
//! states agree, every change is a row of `outbox::TRANSITIONS` for the
//! step's event, a grant mail's cases are told again at most once (exactly
//! once if it was withheld), and no item is lost: each ends sent, failed,
//! suppressed, held, or still pending with a try to come.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;

use mail::outbox::{
    self, Event, Fate, GrantMail, Item, Kind, NewItem, Outbox, Packed, RetryWhich, Scope, State,
};
use mail::send::{decide, Granted, Outcome, GRANT_KINDS};
use mail::MailSettings;

/// Damage to a database file as a disk does it.
#[path = "../../tests/support/disk.rs"]
mod disk;

const EMAILS: [&str; 4] = [
    "a@example.com",
    "b@example.com",
    "c@example.com",
    "d@example.com",
];
/// A send window open all day (the model's items are no reminders, which
/// alone the window's end can fail).
fn always_open() -> mail::config::Window {
    mail::config::Window {
        start: chrono::NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
        end: chrono::NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
    }
}

const NIGHTLY: [Kind; 4] = [Kind::Activation, Kind::Approval, Kind::Digest, Kind::Expiry];

#[derive(Debug, Clone)]
enum Op {
    /// Queue a night's items: (address, kind); `held` digests.
    QueueNight {
        night: u32,
        items: Vec<(usize, usize)>,
        held: bool,
    },
    /// The website queues a mail.
    QueueWebsite { email: usize, changed: bool },
    /// A sender claims what is due (its scope's), at most `max`; unless
    /// `readable`, the live snapshot cannot tell whether grant mail's cases
    /// are still granted.
    Claim {
        website: bool,
        max: usize,
        readable: bool,
        /// The live snapshot no longer grants a case of the grant mail it
        /// checks: withheld at the claim (`Event::Ungranted`).
        revoked: bool,
        /// A nightly claim's connections, taking its items in order
        /// (`send`'s); `None`: claimed without an order.
        connections: Option<usize>,
        /// Every address has turned its digests and reminders off since
        /// they were queued: those due are not sent (`Event::Unsubscribed`).
        unsubscribed: bool,
    },
    /// An attempt in flight ends; its outcome is recorded, and, if
    /// `settle`, the scope's recorded outcomes are settled.
    Outcome {
        pick: usize,
        outcome: u8,
        settle: bool,
    },
    /// The sender is asked to stop: `n` of the claimed items whose turn
    /// has not come (of an ordered claim, the last untaken) are given back
    /// (and an item whose outcome is recorded but not settled is offered
    /// too, and must stay as it is).
    Withdraw { n: usize },
    /// Just before handing it over, the sender finds that a snapshot
    /// published since the claim no longer grants a grant mail in flight:
    /// it is recalled (and an item whose outcome is recorded but not
    /// settled is offered too, and must stay as it is).
    Recall { pick: usize },
    /// The sender dies, its free connections having taken up to `taking`
    /// more items of an ordered claim (handed to a relay, no outcome yet);
    /// the next run recovers both scopes.
    Crash { taking: usize },
    /// A relay refuses an address for good elsewhere: it is flagged.
    Flag { email: usize },
    /// A rollback to a night: the later nights none of whose digests has
    /// gone (or may have) hold those not sent yet.
    RollBack { night: u32 },
    /// An administrator releases a night.
    Release { night: u32 },
    /// An administrator queues an item again (`told`: one whose cases a
    /// later night's mail told, if any, which random picks rarely meet).
    Retry { pick: usize, told: bool },
    /// A delivery report comes back: the item bounced. `late`: it came
    /// more than `REPORTS_COME_WITHIN` after any attempt (else at the
    /// world's start, before any, which no attempt's age bars).
    Bounce { pick: usize, late: bool },
    /// An item's stored message is damaged on disk (its zstd frame's magic
    /// number flipped): a nightly one can no longer be read (the website's
    /// are stored as sent, and left alone).
    Damage { pick: usize },
    /// Time passes.
    Wait { minutes: i64 },
    /// A nightly sender claims all that is due and is asked to stop before
    /// handing any over: two steps, a claim and the withdrawal of all it
    /// took (items that were unknown among them, often after a crash).
    ClaimThenStop,
    /// A later night's mail looks up the earlier grant mail it must check
    /// (`Outbox::grant_mail_to_check`), every address's grant of it gone:
    /// what it lists, it tells again when it is queued ([`Op::Tell`]).
    /// Other steps may come between, as a `send` beside the import.
    LookUp,
    /// The night's mail looked up is queued: it tells again the cases of
    /// what it listed (but one whose cases a night told already,
    /// `told_by`) and withholds each (`NightQueue::withhold`).
    Tell,
    /// The race of a `send` beside the import: a night looks its grant
    /// mail up, a sender claims all that is due, the night's mail is
    /// queued, and then the sender recalls a grant mail it holds (`then`
    /// 0), or gives them all back and a later claim withholds them (1), or
    /// dies (2). Random histories rarely line these up.
    RaceTheNight { then: u8 },
    /// `outbox retry` following `told_by`: an address is flagged, a night
    /// looks its grant mail up, a sender claims what is due (suppressing
    /// the flagged address's, giving one of the rest `outcome`), the
    /// night's mail is queued and withholds or tells what it listed, a
    /// sender claims again (the night's own mail too), one more outcome,
    /// and an administrator retries an item whose cases the night told.
    /// Random histories rarely line these up.
    TellThenRetry {
        email: usize,
        outcome: u8,
        pick: usize,
    },
    /// A nightly sender dies part-way through a batch: a night's mail is
    /// queued, a sender claims all that is due over `connections`, some of
    /// its items get an outcome (each `(pick, outcome)`, recorded, not
    /// settled), and it dies ([`Op::Crash`]). Random histories rarely
    /// leave a connection held behind a later outcome.
    DieMidBatch {
        night: u32,
        connections: usize,
        outcomes: Vec<(usize, u8)>,
        taking: usize,
    },
}

/// The steps an op is played as: itself, or for `ClaimThenStop` a claim
/// and a withdrawal.
fn steps(op: &Op) -> Vec<Op> {
    match op {
        Op::ClaimThenStop => vec![
            Op::Claim {
                website: false,
                max: usize::MAX,
                readable: true,
                revoked: false,
                connections: Some(2),
                unsubscribed: false,
            },
            Op::Withdraw { n: usize::MAX },
        ],
        Op::RaceTheNight { then } => {
            let claim = |revoked| Op::Claim {
                website: false,
                max: usize::MAX,
                readable: true,
                revoked,
                connections: Some(1),
                unsubscribed: false,
            };
            let mut steps = vec![Op::LookUp, claim(false), Op::Tell];
            steps.extend(match then {
                0 => vec![Op::Recall { pick: 0 }],
                1 => vec![Op::Withdraw { n: usize::MAX }, claim(true)],
                _ => vec![Op::Crash { taking: 1 }],
            });
            steps
        }
        Op::TellThenRetry {
            email,
            outcome,
            pick,
        } => {
            let claim = Op::Claim {
                website: false,
                max: usize::MAX,
                readable: true,
                revoked: false,
                connections: Some(2),
                unsubscribed: false,
            };
            let outcome = Op::Outcome {
                pick: 0,
                outcome: *outcome,
                settle: true,
            };
            vec![
                Op::Flag { email: *email },
                Op::LookUp,
                claim.clone(),
                outcome.clone(),
                Op::Tell,
                claim,
                outcome,
                Op::Retry {
                    pick: *pick,
                    told: true,
                },
            ]
        }
        Op::DieMidBatch {
            night,
            connections,
            outcomes,
            taking,
        } => {
            let mut steps = vec![
                Op::QueueNight {
                    night: *night,
                    items: (0..4).flat_map(|e| [(e, 2), (e, 0)]).collect(),
                    held: false,
                },
                Op::Claim {
                    website: false,
                    max: usize::MAX,
                    readable: true,
                    revoked: false,
                    connections: Some(*connections),
                    unsubscribed: false,
                },
            ];
            steps.extend(outcomes.iter().map(|&(pick, outcome)| Op::Outcome {
                pick,
                outcome,
                settle: false,
            }));
            steps.push(Op::Crash { taking: *taking });
            steps
        }
        other => vec![other.clone()],
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u32..3, prop::collection::vec((0usize..4, 0usize..4), 1..6), any::<bool>())
            .prop_map(|(night, items, held)| Op::QueueNight { night, items, held }),
        // An activation or approval and the expiry warning behind it.
        1 => (0u32..3, 0usize..4, 0usize..2)
            .prop_map(|(night, e, k)| Op::QueueNight { night, items: vec![(e, k), (e, 3)], held: false }),
        1 => (0usize..4, any::<bool>()).prop_map(|(email, changed)| Op::QueueWebsite { email, changed }),
        3 => (
            any::<bool>(),
            1usize..6,
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.15),
            prop::option::weighted(0.7, 1usize..4),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(website, max, readable, revoked, connections, unsubscribed)| {
                Op::Claim { website, max, readable, revoked, connections, unsubscribed }
            }),
        4 => (any::<usize>(), 0u8..6, any::<bool>())
            .prop_map(|(pick, outcome, settle)| Op::Outcome { pick, outcome, settle }),
        1 => (0usize..4).prop_map(|taking| Op::Crash { taking }),
        1 => (1usize..4).prop_map(|n| Op::Withdraw { n }),
        1 => Just(Op::ClaimThenStop),
        1 => any::<usize>().prop_map(|pick| Op::Recall { pick }),
        1 => (0usize..4).prop_map(|email| Op::Flag { email }),
        1 => (0u32..3).prop_map(|night| Op::RollBack { night }),
        1 => (0u32..3).prop_map(|night| Op::Release { night }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, told)| Op::Retry { pick, told }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, late)| Op::Bounce { pick, late }),
        1 => any::<usize>().prop_map(|pick| Op::Damage { pick }),
        1 => Just(Op::LookUp),
        1 => Just(Op::Tell),
        1 => (0u8..3).prop_map(|then| Op::RaceTheNight { then }),
        1 => (0usize..4, 0u8..6, any::<usize>())
            .prop_map(|(email, outcome, pick)| Op::TellThenRetry { email, outcome, pick }),
        1 => (0u32..3, 1usize..4, prop::collection::vec((any::<usize>(), 0u8..6), 0..6), 0usize..4)
            .prop_map(|(night, connections, outcomes, taking)| {
                Op::DieMidBatch { night, connections, outcomes, taking }
            }),
        2 => prop_oneof![Just(1i64), Just(30), Just(360), Just(2000), Just(5000)]
            .prop_map(|minutes| Op::Wait { minutes }),
    ]
}

/// An item that only its id names: what `Outbox::withdraw` and
/// `Outbox::recall` go by.
fn by_id(id: i64, now: DateTime<Utc>) -> Item {
    Item {
        id,
        night: String::new(),
        email: String::new(),
        kind: Kind::Digest,
        state: State::Queued,
        message_id: String::new(),
        reference: String::new(),
        message: Vec::new(),
        attempts: 1,
        first_try_at: now,
        queued_at: now,
        case_keys: Vec::new(),
    }
}

/// An item as the model knows it.
#[derive(Debug, Clone)]
struct Model {
    state: State,
    scope: Scope,
    night: String,
    attempts: i64,
    first_try: Option<DateTime<Utc>>,
    /// When it was last claimed (`tried_at`); `None` once a claim is
    /// undone.
    tried: Option<DateTime<Utc>>,
    next_try: Option<DateTime<Utc>>,
    not_before: DateTime<Utc>,
    /// A recorded outcome not settled yet: the state it leads to, by which
    /// event, the next try, and whether no answer came to the data.
    recorded: Option<(State, Event, Option<DateTime<Utc>>, bool)>,
    /// Its stored message cannot be read.
    damaged: bool,
    /// Withheld as no longer granted: never queued again by a retry (it
    /// would show the case).
    withheld: bool,
    message_id: String,
    /// An expiry warning's: the Message-ID of the grant mail it waits
    /// behind (queued in the same step, to the same address).
    behind: Option<String>,
    /// Its state when last claimed: where a withdrawal takes it back to
    /// (unknown stays unknown).
    claimed_from: State,
    /// An activation, approval or expiry warning: it names its cases.
    grant: bool,
    /// How many nights' mail told its cases again ([`Op::Tell`]).
    told: u32,
    /// Withheld by a sender, its cases wait for a night to tell them
    /// (`items.untold`).
    untold: bool,
    /// A night told its cases but could not withhold it (`items.told_by`).
    told_by: bool,
    /// The first night whose mail told its cases (`items.told_by`): a
    /// later night's, whose own mail to the address (`Op::Tell`) `outbox
    /// retry` follows.
    told_night: Option<String>,
    /// Queued by a night to tell another's cases ([`Op::Tell`]): it names
    /// only the one case of its address that night's tellers name, where
    /// the others name two.
    teller: bool,
    kind: Kind,
    /// An attempt may have reached a relay, at any time in its life: no
    /// answer came to its data, or its sender died while sending it
    /// (`items.may_have_gone`: what `outbox retry` trusts).
    may_have_gone: bool,
}

impl Model {
    /// Given back unsent: where it was when claimed (unknown stays unknown,
    /// it may have been delivered before; anything else is queued), the
    /// attempt uncounted. The event it saw.
    fn given_back(&mut self) -> Event {
        let (state, event) = match self.claimed_from {
            State::Unknown => (State::Unknown, Event::WithdrawnUnknown),
            _ => (State::Queued, Event::Withdrawn),
        };
        self.state = state;
        self.attempts -= 1;
        self.tried = None;
        if self.attempts == 0 {
            self.first_try = None;
        }
        event
    }

    /// An item as it is queued: nothing tried, nothing told.
    fn queued(
        state: State,
        scope: Scope,
        night: String,
        message_id: String,
        behind: Option<String>,
        kind: Kind,
        now: DateTime<Utc>,
    ) -> Model {
        Model {
            state,
            scope,
            night,
            attempts: 0,
            first_try: None,
            tried: None,
            next_try: None,
            not_before: now,
            recorded: None,
            damaged: false,
            withheld: false,
            message_id,
            behind,
            claimed_from: State::Queued,
            grant: GRANT_KINDS.contains(&kind),
            told: 0,
            untold: false,
            told_by: false,
            may_have_gone: false,
            told_night: None,
            teller: false,
            kind,
        }
    }
}

/// The state a night queues mail of `kind` to `email` in: a digest of a
/// night the flood guard holds, held; mail other than a grant's to a
/// `flagged` address, suppressed; else queued.
fn queued_as(flagged: &BTreeSet<String>, kind: Kind, email: &str, held: bool) -> State {
    if held && kind == Kind::Digest {
        State::Held
    } else if !kind.is_grant() && flagged.contains(email) {
        State::Suppressed
    } else {
        State::Queued
    }
}

struct World {
    _dir: tempfile::TempDir,
    outbox: Outbox,
    web: rusqlite::Connection,
    cfg: MailSettings,
    now: DateTime<Utc>,
    model: BTreeMap<i64, Model>,
    flagged: BTreeSet<String>,
    in_flight: Vec<Item>,
    /// The last nightly claim made in an order (`claims`), while it stands.
    order: Option<Order>,
    refs: u64,
    /// A later night's look-up, not yet told ([`Op::LookUp`]).
    looked_up: Option<(NaiveDate, Vec<GrantMail>)>,
    /// Later nights so far.
    later: u32,
}

/// A nightly claim's order, as its connections keep it: each takes the
/// next item only once its last has an outcome or has left *sending*, so
/// the items taken are a prefix, and at most `connections` of them are
/// taken and unfinished at a time.
#[derive(Debug)]
struct Order {
    connections: usize,
    ids: Vec<i64>,
    /// How many (a prefix of `ids`) the connections have taken.
    taken: usize,
}

fn night_date(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap() + chrono::Days::new(u64::from(n))
}

fn night_text(n: u32) -> String {
    night_date(n).format("%Y%m%d").to_string()
}

impl World {
    /// The world's clock when it begins.
    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open_for_sending(dir.path()).unwrap();
        let web = outbox::open(dir.path()).unwrap();
        World {
            _dir: dir,
            outbox,
            web,
            cfg: MailSettings::default(),
            now: World::start(),
            model: BTreeMap::new(),
            flagged: BTreeSet::new(),
            in_flight: Vec::new(),
            order: None,
            refs: 0,
            looked_up: None,
            later: 0,
        }
    }

    /// Runs `f` on the outbox's file with this world's connections closed
    /// (pointed at a scratch directory meanwhile), then opens them again.
    fn closed(&mut self, f: impl FnOnce(&std::path::Path)) {
        let dir = self._dir.path().to_path_buf();
        let scratch = dir.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        self.outbox = Outbox::open(&scratch).unwrap();
        self.web = rusqlite::Connection::open_in_memory().unwrap();
        f(&dir.join(outbox::OUTBOX_DB));
        self.outbox = Outbox::open_for_sending(&dir).unwrap();
        self.web = outbox::open(&dir).unwrap();
    }

    fn db(&self) -> BTreeMap<i64, (State, i64)> {
        self.outbox
            .list(None, None)
            .unwrap()
            .into_iter()
            .map(|l| (l.id, (l.state, l.attempts)))
            .collect()
    }

    /// The model's items a sender of `scope` may claim now.
    fn due(&self, scope: Scope) -> Vec<i64> {
        // Each address's first digest that may still go: its later ones
        // wait (the forty-ninth session).
        let mut first_digest: BTreeMap<usize, i64> = BTreeMap::new();
        for (id, m) in &self.model {
            if m.scope == Scope::Nightly
                && m.kind == Kind::Digest
                && matches!(
                    m.state,
                    State::Queued | State::Sending | State::Retrying | State::Unknown
                )
            {
                first_digest.entry(self.email_of(*id)).or_insert(*id);
            }
        }
        // A digest or reminder waits while its address's activation or
        // approval queued before it is queued and due within
        // `behind_for`, for `behind_for` at most after its own time.
        let behind_grant_mail = |id: i64, m: &Model| {
            matches!(m.kind, Kind::Digest | Kind::Reminder)
                && m.not_before > self.now - outbox::behind_for()
                && self.model.iter().any(|(g_id, g)| {
                    *g_id < id
                        && g.scope == Scope::Nightly
                        && matches!(g.kind, Kind::Activation | Kind::Approval)
                        && g.state == State::Queued
                        && g.not_before <= self.now + outbox::behind_for()
                        && self.email_of(*g_id) == self.email_of(id)
                })
        };
        // Claimable now, its time aside.
        let claimable = |id: i64, m: &Model| {
            m.scope == scope
                && !(m.scope == Scope::Nightly && behind_grant_mail(id, m))
                && matches!(m.state, State::Queued | State::Retrying | State::Unknown)
                // A warning waits while its grant mail is with a
                // relay, or may still go out and the warning's time is
                // less than `behind_for` ago.
                && !self.behind(m).is_some_and(|g| {
                    g.state == State::Sending
                        || (matches!(
                            g.state,
                            State::Queued | State::Held | State::Retrying | State::Unknown
                        ) && m.not_before > self.now - outbox::behind_for())
                })
        };
        let on_time =
            |m: &Model| m.not_before <= self.now && m.next_try.is_none_or(|t| t <= self.now);
        let later_digest = |id: i64, m: &Model| {
            m.scope == Scope::Nightly
                && m.kind == Kind::Digest
                && first_digest
                    .get(&self.email_of(id))
                    .is_some_and(|f| *f < id)
        };
        let mut due: Vec<i64> = self
            .model
            .iter()
            .filter(|(id, m)| !later_digest(**id, m) && claimable(**id, m) && on_time(m))
            .map(|(id, _)| *id)
            .collect();
        // An address's first digest goes, its time not come, when a
        // later one's has (the review of the forty-ninth session's change),
        // once for each such time: not if it was tried since (the review
        // of the fiftieth session's).
        for (email, first) in &first_digest {
            let f = &self.model[first];
            if !due.contains(first)
                && claimable(*first, f)
                && self.model.iter().any(|(id, m)| {
                    later_digest(*id, m)
                        && self.email_of(*id) == *email
                        && claimable(*id, m)
                        && on_time(m)
                        && f.tried
                            .is_none_or(|t| t < m.next_try.unwrap_or(m.not_before))
                })
            {
                due.push(*first);
            }
        }
        due.sort_unstable();
        due
    }

    /// The grant mail a warning waits behind, if it is in the outbox.
    fn behind(&self, m: &Model) -> Option<&Model> {
        let id = m.behind.as_ref()?;
        self.model.values().find(|g| &g.message_id == id)
    }

    /// The address (its index in `EMAILS`) of a night's item, from its
    /// Message-ID (`<night.kind.address@x>`).
    fn email_of(&self, id: i64) -> usize {
        let m = &self.model[&id];
        let local = m.message_id.rsplit('.').next().unwrap();
        local.trim_end_matches("@x>").parse().unwrap()
    }

    /// The Message-IDs a night's items were queued with, by id (as
    /// `Op::QueueNight` makes them: night, kind, address).
    fn message_ids(&self) -> BTreeMap<i64, String> {
        self.outbox
            .list(None, None)
            .unwrap()
            .into_iter()
            .map(|l| {
                let e = EMAILS.iter().position(|x| *x == l.email).unwrap();
                (l.id, format!("<{}.{}.{e}@x>", l.night, l.kind))
            })
            .collect()
    }

    /// Plays one step on both; returns the event each changed item saw.
    fn step(&mut self, op: &Op) -> BTreeMap<i64, Event> {
        let mut events = BTreeMap::new();
        match op {
            Op::QueueNight { night, items, held } => {
                let tx = self
                    .outbox
                    .begin_night(night_date(*night), "", self.now)
                    .unwrap();
                let mut added = Vec::new();
                let message_id =
                    |e: usize, kind: Kind| format!("<{}.{kind}.{e}@x>", night_text(*night));
                let mut behind_of = BTreeMap::new();
                for &(e, k) in items {
                    let kind = NIGHTLY[k];
                    let email = EMAILS[e];
                    // A warning waits behind the first grant mail of its
                    // address in the same step, as a night queues it.
                    let behind = (kind == Kind::Expiry)
                        .then(|| {
                            items
                                .iter()
                                .map(|&(e2, k2)| (e2, NIGHTLY[k2]))
                                .find(|&(e2, k2)| e2 == e && k2.is_grant())
                                .map(|(_, k2)| message_id(e, k2))
                        })
                        .flatten();
                    let state = queued_as(&self.flagged, kind, email, *held);
                    let item = NewItem {
                        email: email.into(),
                        kind,
                        message_id: message_id(e, kind),
                        subject: "s".into(),
                        // Each its own bytes, so damage can find its row.
                        message: Packed::new(kind, format!("m {night} {e} {k}").as_bytes()),
                        cases: 2,
                        // A grant's mail names its cases.
                        case_keys: if GRANT_KINDS.contains(&kind) {
                            vec![
                                format!("TPD|民事|115|訴|{e}"),
                                format!("TPD|民事|115|訴|1{e}"),
                            ]
                        } else {
                            Vec::new()
                        },
                        behind: behind.clone(),
                    };
                    if tx.add(&item, state, self.now).unwrap() {
                        added.push((e, k));
                        behind_of.insert(item.message_id.clone(), (item.message_id, behind, kind));
                    }
                }
                tx.commit(None).unwrap();
                // The outbox's key is (night, address, kind): the model
                // learns the new ids from the database.
                let db = self.db();
                let ids = self.message_ids();
                for (id, (state, _)) in db {
                    if !self.model.contains_key(&id) {
                        let (message_id, behind, kind) = behind_of.remove(&ids[&id]).unwrap();
                        self.model.insert(
                            id,
                            Model::queued(
                                state,
                                Scope::Nightly,
                                night_text(*night),
                                message_id,
                                behind,
                                kind,
                                self.now,
                            ),
                        );
                        assert!(outbox::QUEUED_AS.contains(&state));
                    }
                }
                let distinct: BTreeSet<&(usize, usize)> = added.iter().collect();
                assert_eq!(
                    distinct.len(),
                    added.len(),
                    "one item per (night, address, kind)"
                );
            }
            Op::QueueWebsite { email, changed } => {
                self.refs += 1;
                let kind = if *changed { Kind::Changed } else { Kind::Reset };
                let item = NewItem {
                    email: EMAILS[*email].into(),
                    kind,
                    message_id: format!("<w.{}@x>", self.refs),
                    subject: "s".into(),
                    message: Packed::plain(b"m".to_vec()),
                    cases: 0,
                    case_keys: Vec::new(),
                    behind: None,
                };
                let day = self.now.date_naive();
                outbox::queue_website(&self.web, &item, day, &self.refs.to_string(), self.now)
                    .unwrap();
                let id = self.db().keys().max().copied().unwrap();
                let message_id = item.message_id.clone();
                self.model.insert(
                    id,
                    Model::queued(
                        State::Queued,
                        Scope::Website,
                        day.format("%Y%m%d").to_string(),
                        message_id,
                        None,
                        kind,
                        self.now,
                    ),
                );
            }
            Op::Claim {
                website,
                max,
                readable,
                revoked,
                connections,
                unsubscribed,
            } => {
                let scope = if *website {
                    Scope::Website
                } else {
                    Scope::Nightly
                };
                let due = self.outbox.due(scope, self.now, false).unwrap();
                assert_eq!(due.iter().copied().collect::<BTreeSet<_>>(), {
                    self.due(scope).into_iter().collect::<BTreeSet<_>>()
                });
                let ids: Vec<i64> = due.into_iter().take(*max).collect();
                let flagged = self.flagged.clone();
                let check = |_: &Item| {
                    if !*readable {
                        Granted::CannotTell
                    } else if *revoked {
                        Granted::No
                    } else {
                        Granted::Yes
                    }
                };
                let connections = connections.filter(|_| scope == Scope::Nightly);
                let claimed = self
                    .outbox
                    .claim_for(&ids, self.now, connections, |item| {
                        let mut off = |_: &str, _| *unsubscribed;
                        mail::send::plan_claim(
                            item,
                            &flagged,
                            &mut off,
                            &check,
                            always_open(),
                            self.now,
                        )
                        .ok()
                    })
                    .unwrap();
                // Grant mail the snapshot cannot check: untouched, due
                // again (no event, its state and attempts as they were).
                for item in &claimed.left {
                    let m = &self.model[&item.id];
                    assert!(!readable && GRANT_KINDS.contains(&item.kind), "{item:?}");
                    assert!(!m.damaged && !flagged.contains(&item.email), "{item:?}");
                    assert_eq!(item.attempts, m.attempts);
                }
                for item in &claimed.unreadable {
                    let m = self.model.get_mut(&item.id).unwrap();
                    assert!(m.damaged, "item {} is whole", item.id);
                    assert_eq!(item.night, m.night);
                    assert!(EMAILS.contains(&item.email.as_str()));
                    assert!(item.reason.contains("cannot be read"), "{}", item.reason);
                    m.state = State::Failed;
                    m.next_try = None;
                    events.insert(item.id, Event::Unreadable);
                }
                // Warnings whose grant mail was sent: not sent.
                for id in &claimed.covered {
                    let m = &self.model[id];
                    assert_eq!(
                        self.behind(m).map(|g| g.state),
                        Some(State::Sent),
                        "item {id} covered"
                    );
                    let m = self.model.get_mut(id).unwrap();
                    m.state = State::Suppressed;
                    m.next_try = None;
                    events.insert(*id, Event::Covered);
                }
                // Digests and reminders their addresses turned off.
                for id in &claimed.unsubscribed {
                    let m = self.model.get_mut(id).unwrap();
                    // (a digest: the model's nightly mail that names no case)
                    assert!(
                        *unsubscribed && !m.grant && m.scope == Scope::Nightly,
                        "{id}"
                    );
                    m.state = State::Suppressed;
                    m.next_try = None;
                    events.insert(*id, Event::Unsubscribed);
                }
                // Skipped: warnings whose grant mail this claim took first.
                for id in &claimed.skipped {
                    let g = self.behind(&self.model[id]).map(|g| g.message_id.clone());
                    let taken = claimed
                        .items
                        .iter()
                        .any(|i| Some(&i.message_id) == g.as_ref());
                    assert!(taken, "item {id} skipped");
                }
                for item in &claimed.suppressed {
                    assert!(
                        !self.model[&item.id].damaged,
                        "item {} was damaged",
                        item.id
                    );
                    let m = self.model.get_mut(&item.id).unwrap();
                    m.state = State::Suppressed;
                    m.next_try = None;
                    if flagged.contains(&item.email) {
                        events.insert(item.id, Event::Suppress);
                    } else {
                        // Withheld as no longer granted: its cases wait
                        // for a night, unless a night told them already.
                        assert!(*revoked && m.grant, "{item:?}");
                        m.withheld = true;
                        m.untold = !m.told_by;
                        events.insert(item.id, Event::Ungranted);
                    }
                }
                for item in &claimed.items {
                    assert!(
                        (*readable && !*revoked) || !GRANT_KINDS.contains(&item.kind),
                        "sent unchecked, or not granted: {item:?}"
                    );
                    assert!(
                        !*unsubscribed || !matches!(item.kind, Kind::Digest | Kind::Reminder),
                        "sent though unsubscribed: {item:?}"
                    );
                    assert!(
                        self.behind(&self.model[&item.id])
                            .is_none_or(|g| g.state != State::Sent),
                        "a warning sent beside its grant mail: {item:?}"
                    );
                    let m = self.model.get_mut(&item.id).unwrap();
                    assert!(!m.damaged, "item {} was damaged", item.id);
                    assert_eq!(item.state, m.state, "its state as claimed");
                    m.claimed_from = m.state;
                    m.state = State::Sending;
                    m.attempts += 1;
                    m.first_try = m.first_try.or(Some(self.now));
                    m.tried = Some(self.now);
                    assert_eq!(item.attempts, m.attempts);
                    assert_eq!(Some(item.first_try_at), m.first_try);
                    events.insert(item.id, Event::Claim);
                }
                assert_eq!(
                    claimed.items.len()
                        + claimed.covered.len()
                        + claimed.unsubscribed.len()
                        + claimed.suppressed.len()
                        + claimed.unreadable.len()
                        + claimed.left.len()
                        + claimed.skipped.len(),
                    ids.len()
                );
                // Its order stands in place of the last (a nightly claim
                // without one, of nightly mail, removes it).
                if let Some(k) = connections {
                    self.order = (!claimed.items.is_empty()).then(|| Order {
                        connections: k,
                        ids: claimed.items.iter().map(|i| i.id).collect(),
                        taken: 0,
                    });
                } else if claimed
                    .items
                    .iter()
                    .any(|i| i.kind.scope() == Scope::Nightly)
                {
                    self.order = None;
                }
                self.in_flight.extend(claimed.items);
            }
            Op::Outcome {
                pick,
                outcome,
                settle,
            } => {
                let Some(item) = self.take(*pick, |_| true) else {
                    return events;
                };
                let outcome = match outcome {
                    0 => Outcome::Sent,
                    1 => Outcome::Transient("451".into()),
                    2 => Outcome::Permanent("550".into()),
                    3 => Outcome::Unreachable("relay: connection refused".into()),
                    4 => Outcome::Rejected("554 5.7.1 relay access denied".into()),
                    _ => Outcome::Unknown("timeout".into()),
                };
                let d = decide(&item, outcome.clone(), &self.cfg, self.now, 0.5);
                self.outbox.record(&d.recorded(item.id), self.now).unwrap();
                if d.flag.is_some() {
                    self.flagged.insert(item.email.clone());
                }
                let m = self.model.get_mut(&item.id).unwrap();
                let past_deadline = self.now - m.first_try.unwrap() >= self.cfg.retry_for;
                let (state, event) = match outcome {
                    Outcome::Sent => (State::Sent, Event::Accepted),
                    Outcome::Permanent(_) | Outcome::Rejected(_) | Outcome::Undeliverable(_) => {
                        (State::Failed, Event::Refused)
                    }
                    Outcome::Transient(_) | Outcome::Unreachable(_) if past_deadline => {
                        (State::Failed, Event::Expired)
                    }
                    Outcome::Transient(_) | Outcome::Unreachable(_) => {
                        (State::Retrying, Event::Deferred)
                    }
                    // Tried again until the deadline, like a temporary failure.
                    Outcome::Unknown(_) if past_deadline => (State::Failed, Event::Expired),
                    Outcome::Unknown(_) => (State::Unknown, Event::Uncertain),
                };
                assert_eq!(m.state, State::Sending, "recorded, not settled");
                let unknown = matches!(outcome, Outcome::Unknown(_));
                m.recorded = Some((state, event, d.next_try, unknown));
                if matches!(state, State::Retrying | State::Unknown) {
                    let next = d.next_try.expect("a next try");
                    assert!(next > self.now && next <= self.now + Duration::hours(8));
                }
                if *settle {
                    let scope = item.kind.scope();
                    let n = self.outbox.settle(scope).unwrap();
                    assert_eq!(n, self.settle(scope, &mut events));
                }
            }
            Op::Withdraw { n } => {
                // What no connection has taken: the last `n`; of an
                // ordered claim, all it has not taken (a sender that stops
                // takes no next, and gives back every item it did not take).
                let untaken: Vec<usize> = (0..self.in_flight.len())
                    .filter(|&i| !self.was_taken(self.in_flight[i].id))
                    .collect();
                let mut chosen: BTreeSet<usize> = untaken
                    [untaken.len() - (*n).min(untaken.len())..]
                    .iter()
                    .copied()
                    .collect();
                let ordered = |i: &usize| {
                    let id = self.in_flight[*i].id;
                    self.order.as_ref().is_some_and(|o| o.ids.contains(&id))
                };
                if chosen.iter().any(ordered) {
                    chosen.extend(untaken.iter().filter(|i| ordered(i)));
                }
                let n = chosen.len();
                let mut given: Vec<Item> = chosen
                    .iter()
                    .rev()
                    .map(|&i| self.in_flight.remove(i))
                    .collect();
                let recorded: Vec<i64> = self
                    .model
                    .iter()
                    .filter(|(_, m)| m.recorded.is_some())
                    .map(|(id, _)| *id)
                    .collect();
                if let Some(&id) = recorded.first() {
                    given.push(by_id(id, self.now));
                }
                let changed = self.outbox.withdraw(&given).unwrap();
                assert_eq!(changed, n as u64, "only the unstarted ones");
                for item in &given[..n] {
                    let event = self.model.get_mut(&item.id).unwrap().given_back();
                    events.insert(item.id, event);
                }
            }
            Op::Recall { pick } => {
                let recorded = self
                    .model
                    .iter()
                    .find(|(_, m)| m.recorded.is_some())
                    .map(|(id, _)| *id);
                if let Some(id) = recorded {
                    assert!(!self.outbox.recall(&by_id(id, self.now), self.now).unwrap());
                }
                // Recalled as a connection takes it.
                let Some(item) = self.take(*pick, |item| GRANT_KINDS.contains(&item.kind)) else {
                    return events;
                };
                assert!(self.outbox.recall(&item, self.now).unwrap(), "{item:?}");
                assert!(!self.outbox.recall(&item, self.now).unwrap(), "twice");
                let m = self.model.get_mut(&item.id).unwrap();
                assert_eq!(m.state, State::Sending);
                m.state = State::Suppressed;
                m.withheld = true;
                m.untold = !m.told_by;
                m.next_try = None;
                m.attempts -= 1;
                m.tried = None;
                if m.attempts == 0 {
                    m.first_try = None;
                }
                events.insert(item.id, Event::Recalled);
            }
            Op::Crash { taking } => {
                for _ in 0..*taking {
                    let free = self.order.as_ref().is_some_and(|o| {
                        let held = o.ids[..o.taken]
                            .iter()
                            .filter(|id| self.unfinished(**id))
                            .count();
                        o.taken < o.ids.len() && held < o.connections
                    });
                    if free {
                        self.order.as_mut().unwrap().taken += 1;
                    }
                }
                let back = self.untaken_after_crash();
                self.in_flight.clear();
                let (nightly, website) = (
                    self.outbox.recover(Scope::Nightly).unwrap(),
                    self.outbox.recover(Scope::Website).unwrap(),
                );
                assert_eq!(website.given_back, 0, "the website's claims have no order");
                assert_eq!(nightly.given_back, back.len() as u64);
                self.order = None;
                for id in &back {
                    let event = self.model.get_mut(id).unwrap().given_back();
                    events.insert(*id, event);
                }
                let n = nightly.unknown + website.unknown;
                // Recorded outcomes are settled first: they are not lost.
                self.settle(Scope::Nightly, &mut events);
                self.settle(Scope::Website, &mut events);
                let mut want = 0;
                for (id, m) in self.model.iter_mut() {
                    if m.state == State::Sending {
                        m.state = State::Unknown;
                        m.may_have_gone = true;
                        events.insert(*id, Event::Interrupted);
                        want += 1;
                    }
                }
                assert_eq!(n, want);
            }
            Op::Flag { email } => {
                self.flagged.insert(EMAILS[*email].into());
            }
            Op::RollBack { night } => {
                let got = self
                    .outbox
                    .hold_after_rollback(&night_text(*night), self.now)
                    .unwrap();
                // An activation or approval a later night withheld and
                // told: that night's telling is undone, and the cases no
                // activation or approval of a later night names (sent or
                // still to go) wait for the next night to tell. A teller
                // names its address's first case only; one queued by a
                // night names both: of one queued so, the second case is
                // left unless one queued so of a later night goes; of a
                // teller, its case unless any such mail of a later night
                // goes.
                let back = night_text(*night);
                let going = |m: &Model| {
                    matches!(
                        m.state,
                        State::Sent
                            | State::Sending
                            | State::Unknown
                            | State::Queued
                            | State::Retrying
                    )
                };
                let grant_kind = |k: Kind| matches!(k, Kind::Activation | Kind::Approval);
                let candidates: Vec<i64> = self
                    .model
                    .iter()
                    .filter(|(_, m)| {
                        let later = m.told_night.as_ref().is_some_and(|t| *t > back);
                        grant_kind(m.kind) && m.withheld && m.told_by && later && !m.untold
                    })
                    .map(|(id, _)| *id)
                    .filter(|id| {
                        let (e, teller) = (self.email_of(*id), self.model[id].teller);
                        !self.model.iter().any(|(x, m)| {
                            (teller || !m.teller)
                                && grant_kind(m.kind)
                                && m.night > back
                                && going(m)
                                && self.email_of(*x) == e
                        })
                    })
                    .collect();
                for id in &candidates {
                    let m = self.model.get_mut(id).unwrap();
                    m.untold = true;
                    m.told_by = false;
                    m.told_night = None;
                    m.told -= 1;
                }
                assert_eq!(got.reopened, candidates.len() as u64);
                let got = got.nights;
                let mut want = Vec::new();
                let later: BTreeSet<String> = self
                    .model
                    .values()
                    .filter(|m| m.kind == Kind::Digest && m.night > night_text(*night))
                    .map(|m| m.night.clone())
                    .collect();
                for later in later {
                    let digests = || {
                        self.model
                            .iter()
                            .filter(|(_, m)| m.kind == Kind::Digest && m.night == later)
                    };
                    let waiting = |m: &Model| {
                        matches!(m.state, State::Queued | State::Retrying | State::Failed)
                    };
                    let n_waiting = digests().filter(|(_, m)| waiting(m)).count() as u64;
                    let held = digests().filter(|(_, m)| m.state == State::Held).count() as u64;
                    let failed = digests().filter(|(_, m)| m.state == State::Failed).count() as u64;
                    let gone = digests()
                        .filter(|(_, m)| {
                            matches!(m.state, State::Sent | State::Sending | State::Unknown)
                                || m.may_have_gone
                        })
                        .count() as u64;
                    if n_waiting + held == 0 {
                        continue;
                    }
                    let ids: Vec<i64> = digests()
                        .filter(|(_, m)| waiting(m))
                        .map(|(id, _)| *id)
                        .collect();
                    if gone == 0 {
                        for id in ids {
                            self.model.get_mut(&id).unwrap().state = State::Held;
                            events.insert(id, Event::Hold);
                        }
                    }
                    want.push(outbox::RolledBack {
                        night: later,
                        held: if gone == 0 { n_waiting + held } else { 0 },
                        not_held: if gone == 0 { 0 } else { n_waiting },
                        gone,
                        failed: if gone == 0 { 0 } else { failed },
                    });
                }
                assert_eq!(got, want);
            }
            Op::Release { night } => {
                let n = self.outbox.release(&night_text(*night), self.now).unwrap();
                let mut want = 0;
                for (id, m) in self.model.iter_mut() {
                    if m.night == night_text(*night) && m.state == State::Held {
                        m.state = State::Queued;
                        m.attempts = 0;
                        m.first_try = None;
                        m.next_try = None;
                        m.tried = None;
                        events.insert(*id, Event::Release);
                        want += 1;
                    }
                }
                assert_eq!(n, want);
            }
            Op::Retry { pick, told } => {
                let ids: Vec<i64> = self
                    .model
                    .iter()
                    .filter(|(_, m)| !*told || m.told_night.is_some())
                    .map(|(id, _)| *id)
                    .collect();
                if ids.is_empty() {
                    return events;
                }
                let id = ids[pick % ids.len()];
                let retried = self
                    .outbox
                    .retry(RetryWhich::Item(id), &|_, _: &str, _| None, false)
                    .unwrap();
                let retryable = |m: &Model| {
                    matches!(
                        m.state,
                        State::Failed | State::Unknown | State::Retrying | State::Suppressed
                    )
                };
                let m = &self.model[&id];
                let mut requeue = Vec::new();
                let mut to_follow = Vec::new();
                if !m.withheld && retryable(m) {
                    // (not one whose cases a later night told: `send`
                    // would withhold it; that night's mail instead)
                    if m.told_night.is_some() {
                        to_follow.push(id);
                    } else {
                        requeue.push(id);
                    }
                }
                // The mail that told its cases, each once: queued again
                // only if it surely did not go.
                let mut met: BTreeSet<i64> = to_follow.iter().copied().collect();
                let mut want = Vec::new();
                while let Some(of) = to_follow.pop() {
                    let m = &self.model[&of];
                    let night = m.told_night.clone().unwrap();
                    let email = EMAILS[self.email_of(of)];
                    let expiry = m.kind == Kind::Expiry;
                    let tellers: Vec<i64> = self
                        .model
                        .iter()
                        .filter(|(t, t_m)| {
                            t_m.scope == Scope::Nightly
                                && t_m.night == night
                                && EMAILS[self.email_of(**t)] == email
                                && (t_m.kind == Kind::Expiry) == expiry
                                && (expiry || t_m.kind.is_grant())
                        })
                        .map(|(t, _)| *t)
                        .collect();
                    for t in tellers {
                        if !met.insert(t) {
                            continue;
                        }
                        let t_m = &self.model[&t];
                        let fate = if t_m.state == State::Sent {
                            Fate::Went
                        } else if t_m.told_night.is_some() {
                            to_follow.push(t);
                            Fate::ToldLater
                        } else if t_m.withheld {
                            Fate::Withheld
                        } else if !matches!(t_m.state, State::Suppressed | State::Failed) {
                            Fate::MayStillGo
                        } else if t_m.may_have_gone {
                            Fate::MayHaveGone
                        } else if t_m.damaged {
                            Fate::Unreadable
                        } else {
                            requeue.push(t);
                            Fate::QueuedAgain
                        };
                        want.push((t, fate, of));
                    }
                }
                let mut got: Vec<(i64, Fate, i64)> = retried
                    .tellers
                    .iter()
                    .map(|t| (t.id, t.fate, t.of))
                    .collect();
                got.sort_by_key(|f| f.0);
                want.sort_by_key(|f| f.0);
                assert_eq!(got, want, "what retry of item {id} met");
                assert_eq!(retried.emails.len(), requeue.len());
                for id in requeue {
                    let m = self.model.get_mut(&id).unwrap();
                    m.state = State::Queued;
                    m.attempts = 0;
                    m.first_try = None;
                    m.next_try = None;
                    events.insert(id, Event::Retry);
                }
            }
            Op::Bounce { pick, late } => {
                if self.model.is_empty() {
                    return events;
                }
                let id = *self.model.keys().nth(pick % self.model.len()).unwrap();
                // Each report a message of its own; read again, it changes
                // nothing: recorded as read whatever it did, but not while
                // the item is being sent (it may be about that attempt).
                self.refs += 1;
                let mut report = [0u8; 16];
                report[..8].copy_from_slice(&self.refs.to_le_bytes());
                let arrived = match *late {
                    true => self.now + outbox::REPORTS_COME_WITHIN + Duration::days(1),
                    false => World::start(),
                };
                let bounced = self
                    .outbox
                    .bounced(id, "5.1.1 user unknown", true, &report, arrived, self.now)
                    .unwrap();
                let again = self
                    .outbox
                    .bounced(id, "5.1.1 user unknown", true, &report, arrived, self.now)
                    .unwrap();
                let changed = bounced == outbox::Bounced::Failed;
                // (the model keeps no attempt's time: a report too old
                // names one the window before it came, compared as any)
                let some_time = chrono::DateTime::UNIX_EPOCH;
                let bounced = match bounced {
                    outbox::Bounced::TooOld { last } => {
                        assert!(arrived - last > outbox::REPORTS_COME_WITHIN, "item {id}");
                        outbox::Bounced::TooOld { last: some_time }
                    }
                    other => other,
                };
                let was = self.model[&id].state;
                // Only a message a relay took (or may have taken) bounces,
                // and only in the time reports come.
                let would = matches!(was, State::Sent | State::Unknown)
                    && self.model[&id].recorded.is_none();
                let (first, second) = match was {
                    _ if would && *late => (
                        outbox::Bounced::TooOld { last: some_time },
                        outbox::Bounced::ReadBefore,
                    ),
                    _ if changed => (outbox::Bounced::Failed, outbox::Bounced::ReadBefore),
                    State::Sending => (outbox::Bounced::Sending, outbox::Bounced::Sending),
                    State::Failed => (outbox::Bounced::AlreadyFailed, outbox::Bounced::ReadBefore),
                    _ => (outbox::Bounced::NotSentNow, outbox::Bounced::ReadBefore),
                };
                assert_eq!((bounced, again), (first, second), "item {id} in {was}");
                let m = self.model.get_mut(&id).unwrap();
                let bounces = would && !*late;
                assert_eq!(changed, bounces, "item {id} in {}", m.state);
                if bounces {
                    m.state = State::Failed;
                    m.next_try = None;
                    events.insert(id, Event::Bounced);
                }
            }
            Op::Damage { pick } => {
                if self.model.is_empty() {
                    return events;
                }
                let id = *self.model.keys().nth(pick % self.model.len()).unwrap();
                let m = &self.model[&id];
                // Its zstd frame's magic number flipped on disk, once (twice
                // would mend it): never read again.
                if m.scope == Scope::Nightly && !m.damaged {
                    self.closed(|db| disk::damage_stored_message(db, id, |_| 0, 4));
                    self.model.get_mut(&id).unwrap().damaged = true;
                }
            }
            Op::LookUp => {
                if self.looked_up.is_some() {
                    return events;
                }
                self.later += 1;
                let date = night_date(10 + self.later);
                let listed = self.outbox.grant_mail_to_check(date, EMAILS).unwrap();
                let unsent =
                    |m: &Model| matches!(m.state, State::Queued | State::Retrying | State::Unknown);
                let want: BTreeSet<i64> = self
                    .model
                    .iter()
                    .filter(|(_, m)| m.grant && (unsent(m) || m.untold))
                    .map(|(id, _)| *id)
                    .collect();
                let got: BTreeSet<i64> = listed.iter().map(|g| g.id).collect();
                assert_eq!(got, want, "what a night checks");
                for mail in &listed {
                    let m = &self.model[&mail.id];
                    assert_eq!(mail.withheld, !unsent(m), "item {}", mail.id);
                    assert_eq!(mail.told_by.is_some(), m.told_by, "item {}", mail.id);
                }
                self.looked_up = Some((date, listed));
            }
            Op::Tell => {
                let Some((date, listed)) = self.looked_up.take() else {
                    return events;
                };
                let night = date.format("%Y%m%d").to_string();
                let tx = self.outbox.begin_night(date, "", self.now).unwrap();
                // The night's own mail to each address, of the kind that
                // tells them (a grant's, a warning's), tells the cases
                // still granted of the mail no night told before.
                let mut tellers = BTreeSet::new();
                for mail in listed.iter().filter(|m| m.told_by.is_none()) {
                    let e = EMAILS.iter().position(|x| *x == mail.email).unwrap();
                    let kind = if mail.kind == Kind::Expiry {
                        Kind::Expiry
                    } else {
                        Kind::Approval
                    };
                    tellers.insert((e, kind));
                }
                for &(e, kind) in &tellers {
                    let email = EMAILS[e];
                    let state = queued_as(&self.flagged, kind, email, false);
                    let item = NewItem {
                        email: email.into(),
                        kind,
                        message_id: format!("<{night}.{kind}.{e}@x>"),
                        subject: "s".into(),
                        message: Packed::new(kind, format!("m {night} {e} {kind}").as_bytes()),
                        cases: 1,
                        case_keys: vec![format!("TPD|民事|115|訴|{e}")],
                        behind: None,
                    };
                    assert!(tx.add(&item, state, self.now).unwrap());
                }
                for mail in &listed {
                    let m = self.model.get_mut(&mail.id).unwrap();
                    // The night's mail tells what of it is still granted.
                    if mail.told_by.is_none() {
                        m.told += 1;
                    }
                    let want = if mail.withheld {
                        std::mem::take(&mut m.untold)
                    } else if matches!(m.state, State::Queued | State::Retrying | State::Unknown)
                        && m.recorded.is_none()
                    {
                        m.state = State::Suppressed;
                        m.withheld = true;
                        m.next_try = None;
                        events.insert(mail.id, Event::Ungranted);
                        true
                    } else if m.untold {
                        // (a sender withheld it since the look-up)
                        m.untold = false;
                        true
                    } else {
                        // (a sender holds it, or sent or failed it: told
                        // here, so no later withhold tells it again)
                        false
                    };
                    // (the item records the night that told it, whatever
                    // became of it, the first kept: `NightQueue::withhold`)
                    m.told_by = true;
                    m.told_night = m.told_night.clone().or(Some(night.clone()));
                    assert_eq!(
                        tx.withhold(mail, "told tonight").unwrap(),
                        want,
                        "item {}",
                        mail.id
                    );
                }
                tx.commit(None).unwrap();
                let ids = self.message_ids();
                for (id, (state, _)) in self.db() {
                    if self.model.contains_key(&id) {
                        continue;
                    }
                    let message_id = ids[&id].clone();
                    let kind = tellers
                        .iter()
                        .map(|&(_, k)| k)
                        .find(|k| message_id.contains(&format!(".{k}.")))
                        .unwrap();
                    let mut m = Model::queued(
                        state,
                        Scope::Nightly,
                        night.clone(),
                        message_id,
                        None,
                        kind,
                        self.now,
                    );
                    m.teller = true;
                    self.model.insert(id, m);
                }
            }
            Op::Wait { minutes } => self.now += Duration::minutes(*minutes),
            Op::ClaimThenStop
            | Op::RaceTheNight { .. }
            | Op::TellThenRetry { .. }
            | Op::DieMidBatch { .. } => {
                unreachable!("played as its steps")
            }
        }
        events
    }

    /// Claimed and in *sending* with no outcome recorded: in flight.
    fn unfinished(&self, id: i64) -> bool {
        let m = &self.model[&id];
        m.state == State::Sending && m.recorded.is_none()
    }

    /// Whether a connection of the ordered claim has taken the item.
    fn was_taken(&self, id: i64) -> bool {
        self.order
            .as_ref()
            .and_then(|o| o.ids[..o.taken].iter().position(|i| *i == id))
            .is_some()
    }

    /// Takes an item in flight that `fits`, the `pick`th of those a
    /// connection may hold now: any of an unordered claim; of the ordered
    /// claim, one of its first `connections` unfinished (those taken and
    /// unfinished, then the next in order), taking every item before it.
    fn take(&mut self, pick: usize, fits: impl Fn(&Item) -> bool) -> Option<Item> {
        let may = |i: &Item| match &self.order {
            Some(o) => match o.ids.iter().position(|id| *id == i.id) {
                Some(pos) => {
                    o.ids[..pos]
                        .iter()
                        .filter(|id| self.unfinished(**id))
                        .count()
                        < o.connections
                }
                None => true,
            },
            None => true,
        };
        let fit: Vec<usize> = (0..self.in_flight.len())
            .filter(|&i| fits(&self.in_flight[i]) && may(&self.in_flight[i]))
            .collect();
        if fit.is_empty() {
            return None;
        }
        let item = self.in_flight.remove(fit[pick % fit.len()]);
        if let Some(o) = self.order.as_mut() {
            if let Some(pos) = o.ids.iter().position(|id| *id == item.id) {
                o.taken = o.taken.max(pos + 1);
            }
        }
        Some(item)
    }

    /// What a crash's recovery must give back: the ordered claim's items,
    /// walked in order, that no connection can have taken (none if the
    /// machine has no boot id to tell a claim of this boot by). Checks that
    /// none was taken, and that at most one per connection is left in
    /// doubt.
    fn untaken_after_crash(&self) -> Vec<i64> {
        let Some(o) = &self.order else {
            return Vec::new();
        };
        if std::fs::read_to_string("/proc/sys/kernel/random/boot_id").is_err() {
            return Vec::new();
        }
        // Up to the last item with an outcome or out of *sending*, every
        // one was taken, and each unfinished one holds a connection; past
        // it, the free connections may have taken one each.
        let last = o.ids.iter().rposition(|id| !self.unfinished(*id));
        let upto = last.map_or(0, |l| l + 1);
        let held = o.ids[..upto]
            .iter()
            .filter(|id| self.unfinished(**id))
            .count();
        assert!(held <= o.connections, "{held} held: {o:?}");
        let mut free = o.connections - held;
        let mut back = Vec::new();
        for id in &o.ids[upto..] {
            if free > 0 {
                free -= 1;
            } else {
                back.push(*id);
            }
        }
        assert!(
            back.iter().all(|id| !self.was_taken(*id)),
            "a taken item would be given back: {o:?}, {back:?}"
        );
        let doubt = o.ids.iter().filter(|id| self.unfinished(**id)).count() - back.len();
        assert!(doubt <= o.connections, "{doubt} in doubt: {o:?}");
        back
    }

    /// The model's settle: each recorded outcome of `scope` takes effect.
    fn settle(&mut self, scope: Scope, events: &mut BTreeMap<i64, Event>) -> u64 {
        let mut n = 0;
        for (id, m) in self.model.iter_mut() {
            if m.scope == scope {
                if let Some((state, event, next_try, unknown)) = m.recorded.take() {
                    m.state = state;
                    m.next_try = next_try;
                    m.may_have_gone |= unknown;
                    events.insert(*id, event);
                    n += 1;
                }
            }
        }
        n
    }

    fn check(&self, before: &BTreeMap<i64, (State, i64)>, events: &BTreeMap<i64, Event>) {
        let after = self.db();
        assert_eq!(after.len(), self.model.len(), "no item appears or vanishes");
        for (id, (state, attempts)) in &after {
            let m = &self.model[id];
            assert_eq!((*state, *attempts), (m.state, m.attempts), "item {id}");
            match (before.get(id), events.get(id)) {
                (Some((old, _)), Some(event)) => assert_eq!(
                    outbox::next(*old, *event),
                    Some(*state),
                    "item {id}: {old} --{event:?}--> {state} is not in the table"
                ),
                (Some((old, _)), None) => assert_eq!(old, state, "item {id} changed by itself"),
                (None, _) => assert!(outbox::QUEUED_AS.contains(state)),
            }
        }
        // A grant mail's cases are told again at most once; once it is
        // withheld, exactly once (told, or waiting for a night to tell).
        let untold: BTreeSet<i64> = self
            .outbox
            .grant_mail_to_check(night_date(60), [])
            .unwrap()
            .into_iter()
            .map(|g| g.id)
            .collect();
        for (id, m) in &self.model {
            assert_eq!(untold.contains(id), m.untold, "item {id}: untold");
            let told = m.told + u32::from(m.untold);
            assert!(told <= 1, "item {id} told {told} times: {m:?}");
            if m.withheld {
                assert_eq!(told, 1, "item {id} withheld, its cases never told: {m:?}");
            }
        }
        // Whether an attempt may have reached a relay is kept exactly, for
        // the item's life: what `outbox retry` trusts not to send twice,
        // nor to leave a party's cases untold.
        let marked: BTreeMap<i64, bool> = self
            .web
            .prepare("SELECT id, may_have_gone FROM items")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (id, m) in &self.model {
            assert_eq!(
                marked[id], m.may_have_gone,
                "item {id}: may_have_gone: {m:?}"
            );
            assert!(
                m.state != State::Unknown || m.may_have_gone,
                "item {id}: unknown, unmarked"
            );
        }
        let sending = after.values().filter(|(s, _)| *s == State::Sending).count();
        let recorded = self.model.values().filter(|m| m.recorded.is_some()).count();
        assert_eq!(
            sending,
            self.in_flight.len() + recorded,
            "sending = in flight or recorded"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_follow_the_table_and_lose_nothing(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = World::new();
        for op in ops.iter().flat_map(steps) {
            let before = w.db();
            let events = w.step(&op);
            w.check(&before, &events);
        }
        // A crash, then time enough for every deadline: every due item is
        // tried until nothing is due. Nothing stays pending for ever, and
        // what is left is final (or held, waiting for an administrator).
        let before = w.db();
        let events = w.step(&Op::Crash { taking: 0 });
        w.check(&before, &events);
        for _ in 0..50 {
            let before = w.db();
            let events = w.step(&Op::Wait { minutes: 24 * 60 });
            w.check(&before, &events);
            for website in [false, true] {
                let before = w.db();
                let events = w.step(&Op::Claim {
                    website,
                    max: usize::MAX,
                    readable: true,
                    revoked: false,
                    connections: Some(3),
                    unsubscribed: false,
                });
                w.check(&before, &events);
                while !w.in_flight.is_empty() {
                    let before = w.db();
                    let events = w.step(&Op::Outcome { pick: 0, outcome: 1, settle: true });
                    w.check(&before, &events);
                }
            }
        }
        for (id, m) in &w.model {
            prop_assert!(
                matches!(m.state, State::Sent | State::Failed | State::Suppressed | State::Held),
                "item {} ends {}", id, m.state
            );
        }
    }
}
