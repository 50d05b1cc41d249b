//! What `cpor-server` reads of the configuration: `data_dir`, `[server]`
//! and `[mail]` (for the links in mail and the website's own mail; never the
//! import's `[import]`), checked once at start-up, before the socket opens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveTime};
use mail::MailSettings;
use serde::{Deserialize, Serialize};
use settings::{ConfigError, Layers, Section};

/// The website (`cpor-server`). Its public address is `mail.site_url`
/// (the links in mail point there); an `https://` address makes session
/// cookies `Secure` with the `__Host-` prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// Every night, between these times (Asia/Taipei, HH:MM), every route
    /// but /healthz answers 503: the import is rebuilding the data.
    pub maintenance_start: String,
    pub maintenance_end: String,
    /// A session ends after this long without a request...
    pub session_idle_seconds: u64,
    /// ...and this long after login in all.
    pub session_max_seconds: u64,
    /// How long a password reset link works.
    pub reset_link_seconds: u64,
    /// How long a captcha can be answered.
    pub captcha_seconds: u64,
    /// Failed logins per account per hour before every attempt answers 429;
    /// after `slow_after` failures each further attempt waits longer.
    pub account_failures_per_hour: u64,
    pub slow_after: u64,
    /// Failed attempts (login, captcha) per client IP per hour.
    pub ip_failures_per_hour: u64,
    /// Take the client IP from the last X-Forwarded-For hop (behind a
    /// reverse proxy only).
    pub trust_proxy: bool,
    /// How often the server looks at CURRENT for a new snapshot.
    pub snapshot_poll_ms: u64,
    /// How often the live snapshot's content is checked again against the
    /// checksum recorded when it was published (it is always checked before
    /// it is served, and again at once when SQLite reports damage).
    pub snapshot_check_seconds: u64,
    /// TESTS ONLY: every captcha is these six digits. Refused unless the
    /// server listens on loopback only; a warning is logged while it is on.
    pub fixed_captcha: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            maintenance_start: "00:30".into(),
            maintenance_end: "03:00".into(),
            session_idle_seconds: 30 * 60,
            session_max_seconds: 12 * 3600,
            reset_link_seconds: 30 * 60,
            captcha_seconds: 5 * 60,
            account_failures_per_hour: 100,
            slow_after: 10,
            ip_failures_per_hour: 300,
            trust_proxy: false,
            snapshot_poll_ms: 1000,
            snapshot_check_seconds: 3600,
            fixed_captcha: String::new(),
        }
    }
}

/// The nightly maintenance window, Asia/Taipei.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Maintenance {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl std::fmt::Display for Maintenance {
    /// `00:30 至 03:00`, as the pages say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} 至 {}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub maintenance: Maintenance,
    pub session_idle: Duration,
    pub session_max: Duration,
    pub reset_link: Duration,
    pub captcha_ttl: StdDuration,
    pub account_failures_per_hour: u64,
    pub slow_after: u64,
    pub ip_failures_per_hour: u64,
    pub trust_proxy: bool,
    pub snapshot_poll: StdDuration,
    pub snapshot_check: StdDuration,
    /// TESTS ONLY: every captcha is these six digits (loopback only).
    pub fixed_captcha: Option<String>,
}

impl ServerSettings {
    pub fn from_section(s: &Section<ServerConfig>) -> Result<ServerSettings, ConfigError> {
        let c = &s.raw;
        let listen: SocketAddr = c.listen.trim().parse().map_err(|_| {
            s.invalid(
                "listen",
                &c.listen,
                "not an address and port (e.g. 127.0.0.1:8080 or [::1]:8080)",
            )
        })?;
        let maintenance = Maintenance {
            start: s.time_of_day("maintenance_start", &c.maintenance_start)?,
            end: s.time_of_day("maintenance_end", &c.maintenance_end)?,
        };
        let fixed = c.fixed_captcha.trim();
        let fixed_captcha = if fixed.is_empty() {
            None
        } else if fixed.len() != 6 || !fixed.chars().all(|ch| ch.is_ascii_digit()) {
            return Err(s.invalid("fixed_captcha", fixed, "six digits (tests only)"));
        } else if !listen.ip().is_loopback() {
            return Err(s.invalid(
                "fixed_captcha",
                fixed,
                format!(
                    "a fixed captcha is for tests on loopback only, and the server listens on {listen}"
                ),
            ));
        } else {
            Some(fixed.to_string())
        };
        let secs = |key: &str, v: u64| s.seconds(key, v, 1);
        let chrono = |d: StdDuration| Duration::seconds(d.as_secs() as i64);
        Ok(ServerSettings {
            listen,
            maintenance,
            session_idle: chrono(secs("session_idle_seconds", c.session_idle_seconds)?),
            session_max: chrono(secs("session_max_seconds", c.session_max_seconds)?),
            reset_link: chrono(secs("reset_link_seconds", c.reset_link_seconds)?),
            captcha_ttl: secs("captcha_seconds", c.captcha_seconds)?,
            account_failures_per_hour: c.account_failures_per_hour.max(1),
            slow_after: c.slow_after,
            ip_failures_per_hour: c.ip_failures_per_hour.max(1),
            trust_proxy: c.trust_proxy,
            snapshot_poll: StdDuration::from_millis(c.snapshot_poll_ms.max(50)),
            snapshot_check: s.seconds("snapshot_check_seconds", c.snapshot_check_seconds, 1)?,
            fixed_captcha,
        })
    }
}

/// `cpor-server`'s configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub mail: MailSettings,
    /// `[sso]`: the MOJ single sign-on, `None` when no issuer is set.
    pub sso: Option<crate::sso::SsoSettings>,
}

impl Config {
    /// Reads and checks everything `cpor-server` uses.
    pub fn load(layers: &Layers) -> Result<Config, ConfigError> {
        let mail = MailSettings::load(layers)?;
        Ok(Config {
            data_dir: layers.data_dir()?.0,
            server: ServerSettings::from_section(&layers.section("server")?)?,
            sso: crate::sso::SsoSettings::load(layers, &mail.site_url)?,
            mail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(var: &'static str, value: &'static str) -> Result<Config, ConfigError> {
        let layers = Layers::from_parts(
            None,
            Box::new(move |name| (name == var).then(|| value.to_string())),
        )?;
        Config::load(&layers)
    }

    #[test]
    fn a_bad_listen_address_or_maintenance_time_names_its_key_and_source() {
        let err = with_env("CPOR_SERVER_LISTEN", "localhost")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("server.listen = `localhost` (from environment variable CPOR_SERVER_LISTEN): not an address"),
            "{err}"
        );
        let err = with_env("CPOR_SERVER_MAINTENANCE_START", "0030")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("server.maintenance_start = `0030` (from environment variable"),
            "{err}"
        );
    }

    #[test]
    fn a_fixed_captcha_is_refused_off_loopback() {
        let layers = Layers::from_parts(
            Some((
                "t.toml".into(),
                "[server]\nlisten = '0.0.0.0:8080'\nfixed_captcha = '123456'\n".into(),
            )),
            Box::new(|_| None),
        )
        .unwrap();
        let err = Config::load(&layers).unwrap_err().to_string();
        assert!(err.starts_with("server.fixed_captcha = `123456` (from file t.toml): a fixed captcha is for tests on loopback only"), "{err}");
    }

    #[test]
    fn the_example_file_has_every_server_key_with_its_default() {
        let text = include_str!("../../cpor.example.toml");
        let layers = Layers::from_parts(
            Some(("cpor.example.toml".into(), text.into())),
            Box::new(|_| None),
        )
        .unwrap();
        let s: Section<ServerConfig> = layers.section("server").unwrap();
        let d = toml::Value::try_from(ServerConfig::default()).unwrap();
        assert_eq!(toml::Value::try_from(&s.raw).unwrap(), d);
        let table: toml::Table = toml::from_str(text).unwrap();
        assert_eq!(
            table["server"].as_table().unwrap().len(),
            d.as_table().unwrap().len()
        );
        Config::load(&layers).unwrap();
    }
}
