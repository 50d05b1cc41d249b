//! The `[mail]` section: as written (`MailConfig`, every key a default that
//! works on a laptop), and as used (`MailSettings`, parsed once at start-up:
//! the sender a mailbox, the window times of day, the relay's security an
//! enum). A bad value stops `cpor-etl` and `cpor-server` before any work,
//! naming the key, the value and where it came from.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use settings::{ConfigError, Layers, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Whether imports queue mail at all.
    pub enabled: bool,
    /// The sender, `Name <address>`.
    pub from: String,
    /// Where delivery reports (bounces) go, e.g. `bounces@cpor.example.tw`:
    /// each message's envelope sender becomes `bounces+<item>.<tag>@…`
    /// (VERP), so `cpor-etl bounces` can tell which message bounced. Empty:
    /// the envelope sender is `from`'s address.
    pub bounce_address: String,
    /// Where the website is, for the links in mail.
    pub site_url: String,
    /// SMTP relay; empty: write each message as an .eml file under
    /// `<data>/mail/` instead (the laptop default).
    pub smtp_host: String,
    pub smtp_port: u64,
    /// `none`, `starttls` or `tls`.
    pub smtp_security: String,
    pub smtp_user: String,
    pub smtp_password: String,
    /// How long to wait for the greeting and for the reply to each command
    /// up to RCPT (RFC 5321 §4.5.3.2: 5 minutes each)...
    pub smtp_command_timeout_seconds: u64,
    /// ...for the reply to DATA (2 minutes)...
    pub smtp_data_timeout_seconds: u64,
    /// ...and to send the message and get the reply to its final "."
    /// (a data block 3 minutes, the reply 10).
    pub smtp_data_end_timeout_seconds: u64,
    /// When not 0, an upper limit on the three.
    pub smtp_timeout_seconds: u64,
    /// SMTP connections used at once.
    pub smtp_connections: u64,
    /// Mail goes out between these times, Asia/Taipei (HH:MM).
    pub window_start: String,
    pub window_end: String,
    /// A night's mail is spread over the first this many minutes.
    pub spread_minutes: u64,
    /// First retry after this many seconds, doubling, with jitter...
    pub retry_base_seconds: u64,
    /// ...until this many hours after the first attempt.
    pub retry_hours: u64,
    /// How long an activation link works.
    pub activation_days: u64,
    /// Hold a night's digests when news touches more than this share of
    /// all followed cases...
    pub flood_share: f64,
    /// ...and at least this many followed cases exist (a handful is noise).
    pub flood_min_cases: u64,
    /// Hearing reminders go out this many days before a hearing (Asia/Taipei
    /// calendar days, 1 to 60), inside the send window; `[]`: none.
    pub reminder_days: Vec<u64>,
    /// `send`'s and `bounces`' reports (each lists the flagged addresses)
    /// are removed this many days after they were written.
    pub keep_reports_days: u64,
}

/// `mail.site_url` when no configuration gives one: right for
/// `scripts/run-sample` on a laptop, never for mail people get (a data
/// directory whose mail was made with another refuses it:
/// `send::check_configured`).
pub const DEFAULT_SITE_URL: &str = "http://localhost:8080";

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            enabled: true,
            from: "案件進度查詢 <noreply@cpor.localhost>".into(),
            bounce_address: String::new(),
            site_url: DEFAULT_SITE_URL.into(),
            smtp_host: String::new(),
            smtp_port: 25,
            smtp_security: "none".into(),
            smtp_user: String::new(),
            smtp_password: String::new(),
            smtp_command_timeout_seconds: 300,
            smtp_data_timeout_seconds: 120,
            smtp_data_end_timeout_seconds: 600,
            smtp_timeout_seconds: 0,
            smtp_connections: 4,
            window_start: "07:00".into(),
            window_end: "21:00".into(),
            spread_minutes: 20,
            retry_base_seconds: 300,
            retry_hours: 72,
            activation_days: 14,
            flood_share: 0.3,
            flood_min_cases: 100,
            reminder_days: vec![7, 1],
            keep_reports_days: 90,
        }
    }
}

/// How the relay's connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// A plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP relay.
#[derive(Debug, Clone)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User and password, when the relay needs a login.
    pub login: Option<(String, String)>,
    pub timeouts: Timeouts,
    /// Connections used at once.
    pub connections: usize,
}

/// How long to wait for the relay at each step of a transaction (RFC 5321
/// §4.5.3.2, as lettre can set them: one timeout covers a write and the
/// reply after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting, the 220 greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT.
    pub command: StdDuration,
    /// The 354 reply to DATA.
    pub data: StdDuration,
    /// Sending the message and the reply to its final ".".
    pub data_end: StdDuration,
}

/// Mail goes out between these times of day, Asia/Taipei.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    pub fn contains(&self, t: NaiveTime) -> bool {
        t >= self.start && t < self.end
    }

    /// Whether it is open at `now` (its times are Asia/Taipei's).
    pub fn is_open_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.contains(now.with_timezone(&schemas::date::taipei()).time())
    }
}

impl std::fmt::Display for Window {
    /// `07:00–21:00`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}–{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// `[mail]`, validated.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub enabled: bool,
    pub from: Mailbox,
    /// VERP bounces (`mail.bounce_address`), if set.
    pub bounce_address: Option<lettre::Address>,
    /// The website's public address, read once ([`SiteUrl`]).
    pub site_url: SiteUrl,
    /// `None`: .eml files under `<data>/mail/`.
    pub relay: Option<Relay>,
    pub window: Window,
    pub spread: Duration,
    pub retry_base: StdDuration,
    pub retry_for: Duration,
    pub activation: Duration,
    pub flood_share: f64,
    pub flood_min_cases: u64,
    /// Days before a hearing a reminder goes out, largest first, distinct.
    pub reminder_days: Vec<u32>,
    /// How long `send`'s and `bounces`' reports are kept.
    pub keep_reports: Duration,
    /// The site's nightly pause (`[server]`'s `maintenance_start` and
    /// `maintenance_end`, read alone: `Layers::maintenance`), which every
    /// mail's footer says.
    pub maintenance: settings::Maintenance,
    /// With no relay, write .eml files even in a data directory whose mail
    /// went through a relay before (`cpor-etl send --to-files`; never a
    /// setting of the file, so that a forgotten one cannot turn it on).
    pub files_after_relay: bool,
}

impl MailSettings {
    /// When an activation link made at `made` stops working: `activation`
    /// later, or, the site closed then, that moved past the maintenance
    /// window by its length (`Maintenance::open_by`; a night's links are
    /// made in the window). The token's life, the mail's
    /// words and `outbox retry`'s judgement of a link that has expired.
    pub fn activation_until(&self, made: DateTime<Utc>) -> DateTime<Utc> {
        self.maintenance.open_by(made + self.activation)
    }

    /// The organizer calendar files name (RFC 5546: a mailed REQUEST and
    /// any CANCEL need one): the sender, under its display name or the
    /// service's.
    pub fn organizer(&self) -> schemas::calendar::Organizer {
        schemas::calendar::Organizer {
            name: self
                .from
                .name
                .clone()
                .unwrap_or_else(|| "案件進度查詢".into()),
            email: self.from.email.to_string(),
        }
    }

    /// Reads and checks `[mail]`, and the site's maintenance window.
    pub fn load(layers: &Layers) -> Result<MailSettings, ConfigError> {
        Ok(MailSettings {
            maintenance: layers.maintenance()?,
            ..MailSettings::from_section(&layers.section("mail")?)?
        })
    }

    pub fn from_section(s: &Section<MailConfig>) -> Result<MailSettings, ConfigError> {
        let c = &s.raw;
        let from: Mailbox = c.from.parse().map_err(|e| {
            s.invalid(
                "from",
                &c.from,
                format!("not a sender like `案件進度查詢 <noreply@example.tw>` ({e})"),
            )
        })?;
        // (by the rule every message's addresses meet: lettre's parser
        // takes a domain in Chinese, which no message could be sent from)
        crate::mailable(from.email.as_ref()).map_err(|why| s.invalid("from", &c.from, why))?;
        let site_url =
            SiteUrl::parse(&c.site_url).map_err(|why| s.invalid("site_url", &c.site_url, why))?;
        let relay = if c.smtp_host.trim().is_empty() {
            None
        } else {
            let security = match c.smtp_security.trim() {
                "none" => Security::None,
                "starttls" => Security::StartTls,
                "tls" => Security::Tls,
                other => {
                    return Err(s.invalid("smtp_security", other, "one of none, starttls, tls"))
                }
            };
            let port = u16::try_from(c.smtp_port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| s.invalid("smtp_port", c.smtp_port, "a port, 1 to 65535"))?;
            if c.smtp_connections == 0 {
                return Err(s.invalid("smtp_connections", 0, "at least 1"));
            }
            Some(Relay {
                host: c.smtp_host.trim().to_string(),
                port,
                security,
                login: (!c.smtp_user.is_empty())
                    .then(|| (c.smtp_user.clone(), c.smtp_password.clone())),
                timeouts: {
                    let cap = |t: StdDuration| match c.smtp_timeout_seconds {
                        0 => t,
                        n => t.min(StdDuration::from_secs(n)),
                    };
                    Timeouts {
                        command: cap(s.seconds(
                            "smtp_command_timeout_seconds",
                            c.smtp_command_timeout_seconds,
                            1,
                        )?),
                        data: cap(s.seconds(
                            "smtp_data_timeout_seconds",
                            c.smtp_data_timeout_seconds,
                            1,
                        )?),
                        data_end: cap(s.seconds(
                            "smtp_data_end_timeout_seconds",
                            c.smtp_data_end_timeout_seconds,
                            1,
                        )?),
                    }
                },
                connections: c.smtp_connections as usize,
            })
        };
        let window = Window {
            start: s.time_of_day("window_start", &c.window_start)?,
            end: s.time_of_day("window_end", &c.window_end)?,
        };
        if window.start >= window.end {
            return Err(s.invalid(
                "window_end",
                &c.window_end,
                format!("must be later than window_start ({})", c.window_start),
            ));
        }
        let bounce_address = match c.bounce_address.trim() {
            "" => None,
            b => {
                crate::mailable(b).map_err(|why| s.invalid("bounce_address", b, why))?;
                Some(b.parse::<lettre::Address>().map_err(|e| {
                    s.invalid(
                        "bounce_address",
                        b,
                        format!("not an address like bounces@cpor.example.tw ({e})"),
                    )
                })?)
            }
        };
        Ok(MailSettings {
            enabled: c.enabled,
            from,
            bounce_address,
            site_url,
            relay,
            window,
            spread: Duration::minutes(c.spread_minutes as i64),
            retry_base: s.seconds("retry_base_seconds", c.retry_base_seconds, 0)?,
            retry_for: Duration::hours(c.retry_hours as i64),
            keep_reports: match c.keep_reports_days {
                d @ 1..=3650 => Duration::days(d as i64),
                d => return Err(s.invalid("keep_reports_days", d, "1 to 3650 days")),
            },
            activation: match c.activation_days {
                d @ 1..=365 => Duration::days(d as i64),
                d => return Err(s.invalid("activation_days", d, "1 to 365 days")),
            },
            flood_share: s.share("flood_share", c.flood_share)?,
            flood_min_cases: c.flood_min_cases,
            reminder_days: {
                let mut days = Vec::new();
                for &d in &c.reminder_days {
                    if !(1..=60).contains(&d) {
                        return Err(s.invalid(
                            "reminder_days",
                            format!("{:?}", c.reminder_days),
                            "days before a hearing, each 1 to 60 (e.g. [7, 1]; [] for none)",
                        ));
                    }
                    days.push(d as u32);
                }
                days.sort_unstable_by(|a, b| b.cmp(a));
                days.dedup();
                days
            },
            files_after_relay: false,
            // (`load` reads it: it is `[server]`'s)
            maintenance: settings::Maintenance::default(),
        })
    }

    /// Whether links in mail, and so the website, are served over HTTPS.
    pub fn https(&self) -> bool {
        self.site_url.https()
    }
}

/// `mail.site_url`, read once: the website's public address, which every
/// link in mail and on the site begins (`{site}{path}`), kept as written
/// without its trailing slash; and its origin as a browser names it in
/// `Origin` (scheme and host in lower case, a default port left out),
/// which the website's form guard compares. Read elsewhere as text, a
/// `site_url` written `https://CPOR.example.tw:443` was not the origin
/// browsers send (the architecture review of the fifty-third session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUrl {
    text: String,
    origin: String,
    https: bool,
    loopback: bool,
}

impl SiteUrl {
    /// An http or https address with a host; no user name, query or
    /// fragment, which every link made by adding a path would carry
    /// wrongly; no white space.
    pub fn parse(given: &str) -> Result<SiteUrl, String> {
        const NOT_ONE: &str =
            "not a web address (http:// or https://, e.g. https://cpor.example.tw)";
        let text = given.trim().trim_end_matches('/');
        if text.contains(char::is_whitespace) {
            return Err(NOT_ONE.into());
        }
        let url = url::Url::parse(text).map_err(|e| format!("{NOT_ONE}: {e}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(NOT_ONE.into()),
        };
        if url.host().is_none() {
            return Err(NOT_ONE.into());
        }
        let loopback = loopback(&url);
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not hold a user name or password".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(
                "must not have a ?query or #fragment: links are made by adding a path to it".into(),
            );
        }
        Ok(SiteUrl {
            text: text.to_string(),
            origin: url.origin().ascii_serialization(),
            https,
            loopback,
        })
    }

    /// As written, without its trailing slash: `https://cpor.example.tw`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `https://cpor.example.tw`, as a browser's `Origin` names the site.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn https(&self) -> bool {
        self.https
    }

    /// Served to this machine only (`localhost`, 127.0.0.0/8, `::1`):
    /// where plain http is allowed for what needs https (the sign-on).
    pub fn loopback(&self) -> bool {
        self.loopback
    }
}

/// Whether a web address is this machine's (`localhost`, 127.0.0.0/8,
/// `::1`): where plain http is allowed for what needs https (tests).
pub fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl std::fmt::Display for SiteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Default for MailSettings {
    /// The built-in defaults, validated.
    fn default() -> Self {
        MailSettings::load(&Layers::defaults()).expect("the defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn with_env(var: &'static str, value: &'static str) -> Result<MailSettings, ConfigError> {
        let layers = Layers::from_parts(
            None,
            Box::new(move |name| (name == var).then(|| value.to_string())),
        )?;
        MailSettings::load(&layers)
    }

    #[test]
    fn reminder_days_are_sorted_distinct_and_bounded() {
        let load = |text: &str| {
            let layers = Layers::from_parts(
                Some((PathBuf::from("x.toml"), format!("[mail]\n{text}\n"))),
                Box::new(|_| None),
            )
            .unwrap();
            MailSettings::load(&layers)
        };
        assert_eq!(MailSettings::default().reminder_days, vec![7, 1]);
        assert_eq!(
            load("reminder_days = [1, 3, 1]").unwrap().reminder_days,
            vec![3, 1]
        );
        assert!(load("reminder_days = []").unwrap().reminder_days.is_empty());
        for bad in ["[0]", "[61]", "[7, 0]"] {
            let err = load(&format!("reminder_days = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("mail.reminder_days = "), "{err}");
        }
    }

    /// A review of the admin side (2026-12-06): `activation_days = 0`
    /// was made 1 without a word. It is refused, naming the range.
    #[test]
    fn an_activation_link_that_would_never_work_is_refused() {
        let err = with_env("CPOR_MAIL_ACTIVATION_DAYS", "0")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("mail.activation_days = `0`") && err.contains("1 to 365"),
            "{err}"
        );
    }

    #[test]
    fn the_defaults_are_valid_and_typed() {
        let m = MailSettings::default();
        assert_eq!(m.from.email.domain(), "cpor.localhost");
        assert!(m.relay.is_none());
        assert_eq!(m.window.to_string(), "07:00–21:00");
        assert!(!m.https());
    }

    #[test]
    fn a_bad_sender_names_the_key_and_the_variable() {
        let err = with_env("CPOR_MAIL_FROM", "not an address").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("mail.from = `not an address` (from environment variable CPOR_MAIL_FROM): not a sender"),
            "{text}"
        );
    }

    /// The architecture review of the fifty-third session (its M2): the
    /// sender and the bounce address were checked by lettre's parser only,
    /// which takes a domain in Chinese, while every message is sent from
    /// ASCII addresses only (`mailable`): each would have failed. They
    /// stop the program at start, naming the key.
    #[test]
    fn a_sender_or_bounce_address_mail_cannot_go_from_is_refused() {
        for (var, value, key) in [
            (
                "CPOR_MAIL_FROM",
                "案件進度查詢 <noreply@例子.台灣>",
                "mail.from",
            ),
            (
                "CPOR_MAIL_BOUNCE_ADDRESS",
                "bounces@例子.台灣",
                "mail.bounce_address",
            ),
        ] {
            let err = with_env(var, value).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{key} = `{value}`")) && err.contains("not ASCII"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_times_security_and_urls_are_refused() {
        for (var, value, key) in [
            ("CPOR_MAIL_WINDOW_START", "7am", "mail.window_start"),
            ("CPOR_MAIL_WINDOW_END", "06:00", "mail.window_end"),
            ("CPOR_MAIL_SITE_URL", "cpor.example.tw", "mail.site_url"),
            ("CPOR_MAIL_FLOOD_SHARE", "1.5", "mail.flood_share"),
        ] {
            let err = with_env(var, value).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{key} = `{value}`")), "{err}");
        }
        let layers = Layers::from_parts(
            Some((
                PathBuf::from("x.toml"),
                "[mail]\nsmtp_host = 'relay'\nsmtp_security = 'ssl'\n".into(),
            )),
            Box::new(|_| None),
        )
        .unwrap();
        let err = MailSettings::load(&layers).unwrap_err().to_string();
        assert_eq!(
            err,
            "mail.smtp_security = `ssl` (from file x.toml): one of none, starttls, tls"
        );
    }

    /// The site's address is read once, with its origin as browsers name
    /// it, whatever the case or default port it is written with; what
    /// could not begin a link is refused.
    #[test]
    fn the_site_url_is_read_once_with_the_origin_browsers_name() {
        for (given, text, origin, https, loopback) in [
            (
                "https://cpor.example.tw/",
                "https://cpor.example.tw",
                "https://cpor.example.tw",
                true,
                false,
            ),
            (
                " https://CPOR.example.tw:443 ",
                "https://CPOR.example.tw:443",
                "https://cpor.example.tw",
                true,
                false,
            ),
            (
                "http://localhost:8080",
                "http://localhost:8080",
                "http://localhost:8080",
                false,
                true,
            ),
            (
                "http://127.0.0.2/",
                "http://127.0.0.2",
                "http://127.0.0.2",
                false,
                true,
            ),
            (
                "https://example.tw:8443/cpor/",
                "https://example.tw:8443/cpor",
                "https://example.tw:8443",
                true,
                false,
            ),
        ] {
            let site = SiteUrl::parse(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(
                (site.as_str(), site.origin(), site.https(), site.loopback()),
                (text, origin, https, loopback),
                "{given}"
            );
            assert_eq!(site.to_string(), text);
        }
        for refused in [
            "cpor.example.tw",
            "https://",
            "ftp://cpor.example.tw",
            "https://user:pw@cpor.example.tw",
            "https://cpor.example.tw/?a=1",
            "https://cpor.example.tw/#top",
            "https://cpor.example.tw/a b",
        ] {
            assert!(SiteUrl::parse(refused).is_err(), "{refused}");
        }
    }

    /// RFC 5321 §4.5.3.2: the 220 greeting, MAIL and RCPT 5 minutes, DATA
    /// 2 minutes, a data block 3 and the reply to the final "." 10 minutes.
    /// A relay slower than 30 s got each message twice and then failed.
    #[test]
    fn smtp_timeouts_default_to_rfc_5321s() {
        let d = toml::Value::try_from(MailConfig::default()).unwrap();
        for (key, seconds) in [
            ("smtp_command_timeout_seconds", 300),
            ("smtp_data_timeout_seconds", 120),
            ("smtp_data_end_timeout_seconds", 600),
        ] {
            assert_eq!(
                d.get(key).and_then(|v| v.as_integer()),
                Some(seconds),
                "{key}"
            );
        }
    }

    #[test]
    fn the_smtp_timeouts_are_typed_and_capped_by_smtp_timeout_seconds() {
        let relay = |text: &str| {
            let layers = Layers::from_parts(
                Some((
                    PathBuf::from("x.toml"),
                    format!("[mail]\nsmtp_host = 'relay'\n{text}"),
                )),
                Box::new(|_| None),
            )
            .unwrap();
            MailSettings::load(&layers).unwrap().relay.unwrap().timeouts
        };
        let min = |m: u64| StdDuration::from_secs(60 * m);
        assert_eq!(
            relay(""),
            Timeouts {
                command: min(5),
                data: min(2),
                data_end: min(10),
            }
        );
        let capped = relay("smtp_timeout_seconds = 150");
        assert_eq!(
            (capped.command, capped.data, capped.data_end),
            (
                StdDuration::from_secs(150),
                min(2),
                StdDuration::from_secs(150)
            )
        );
    }

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        let text = include_str!("../../cpor.example.toml");
        let layers = Layers::from_parts(
            Some(("cpor.example.toml".into(), text.into())),
            Box::new(|_| None),
        )
        .unwrap();
        let s: Section<MailConfig> = layers.section("mail").unwrap();
        let d = MailConfig::default();
        let table: toml::Table = toml::from_str(text).unwrap();
        let keys: Vec<&String> = table["mail"].as_table().unwrap().keys().collect();
        let all = toml::Value::try_from(&d).unwrap();
        assert_eq!(
            keys.len(),
            all.as_table().unwrap().len(),
            "every key is in the example"
        );
        assert_eq!(toml::Value::try_from(&s.raw).unwrap(), all);
    }
}
