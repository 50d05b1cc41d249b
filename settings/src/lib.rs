//! Configuration, validated once, at start-up.
//!
//! Every key has a built-in default that works on a laptop. A TOML file
//! (`--config`, `CPOR_CONFIG`, or `./cpor.toml` when present) overrides the
//! defaults, environment variables override the file, and command-line flags
//! override everything. Every key has an environment variable named after its
//! path: `data_dir` → `CPOR_DATA_DIR`, `[import] reject_share` →
//! `CPOR_IMPORT_REJECT_SHARE`. `cpor.example.toml` documents them all.
//!
//! This crate is the loader only: it merges the layers and remembers where
//! each value came from (`Source`). Each section is defined, as a plain serde
//! struct, by the crate that uses it (`[mail]` by `mail`, `[import]` by
//! `etl`, `[server]` by `query-server`), which turns it into typed values
//! (addresses, times of day, durations, enums) before any work starts. A bad
//! value stops the program with the key, the value and its source
//! (`ConfigError`). A binary reads only the sections it uses; a section or key
//! nobody knows is an error, so a typo is never silently ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Every top-level key a configuration file may have.
pub const SECTIONS: &[&str] = &["data_dir", "import", "mail", "server", "sso"];

/// `[server]`'s default maintenance window (Asia/Taipei): the original
/// service's, 00:30 to 03:00.
pub const MAINTENANCE_START: &str = "00:30";
pub const MAINTENANCE_END: &str = "03:00";

/// The nightly maintenance window, Asia/Taipei (`[server]`
/// `maintenance_start`, `maintenance_end`): the site pauses, and mail says
/// when. From a time to the same time is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Maintenance {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Maintenance {
    /// Whether there is no window at all (start and end the same).
    pub fn is_none(&self) -> bool {
        self.start == self.end
    }

    /// If `t` (a time of day in Asia/Taipei) falls in the window, the
    /// seconds from it to the window's end (at least 1; a window may span
    /// midnight).
    pub fn seconds_left(&self, t: NaiveTime) -> Option<u64> {
        let (start, end) = (self.start, self.end);
        let inside = if start <= end {
            t >= start && t < end
        } else {
            t >= start || t < end
        };
        if !inside {
            return None;
        }
        Some(seconds_from(t, end).max(1))
    }

    /// The window's whole length in seconds (what is left of it from its
    /// first second); 0 when there is none.
    pub fn length(&self) -> u64 {
        self.seconds_left(self.start).unwrap_or_default()
    }

    /// The seconds from `t` (a time of day in Asia/Taipei) to the window's
    /// next start: a signed-in page warns before the site pauses. None
    /// when there is no window, or when `t` is in it.
    pub fn seconds_to_start(&self, t: NaiveTime) -> Option<u64> {
        if self.is_none() || self.seconds_left(t).is_some() {
            return None;
        }
        Some(seconds_from(t, self.start))
    }

    /// A link's deadline people can meet: `at`, or, when the site is
    /// closed then, `at` moved by the window's length: past the window's
    /// end by as much of the link's time as the window took (an activation
    /// link queued in the window, 14 days on, would otherwise expire while
    /// the site is shut; the window's end, 03:00, expired the moment the
    /// site reopened).
    pub fn open_by(&self, at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        let local = at.with_timezone(&schemas::date::taipei()).time();
        match self.seconds_left(local) {
            // (the window's whole length: what is left of it from its
            // first second)
            Some(_) => at + chrono::Duration::seconds(self.length() as i64),
            None => at,
        }
    }

    /// The window as pages and mail say it, `00:30 至 03:00`; empty when
    /// there is none, and they then say nothing of it.
    pub fn said(&self) -> String {
        if self.is_none() {
            String::new()
        } else {
            self.to_string()
        }
    }
}

/// The seconds from the time of day `from` to the next `to` (0 when they
/// are the same second; across midnight when `to` is earlier).
fn seconds_from(from: NaiveTime, to: NaiveTime) -> u64 {
    use chrono::Timelike;
    let secs = |t: NaiveTime| t.num_seconds_from_midnight() as i64;
    (secs(to) - secs(from)).rem_euclid(24 * 3600) as u64
}

impl Default for Maintenance {
    fn default() -> Self {
        let at = |t| NaiveTime::parse_from_str(t, "%H:%M").expect("a default time");
        Maintenance {
            start: at(MAINTENANCE_START),
            end: at(MAINTENANCE_END),
        }
    }
}

impl fmt::Display for Maintenance {
    /// `00:30 至 03:00`, as pages and mail say it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} 至 {}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// The two keys of `[server]` the mail reads ([`Layers::maintenance`]).
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(default)]
struct MaintenanceKeys {
    maintenance_start: String,
    maintenance_end: String,
}

impl Default for MaintenanceKeys {
    fn default() -> Self {
        MaintenanceKeys {
            maintenance_start: MAINTENANCE_START.into(),
            maintenance_end: MAINTENANCE_END.into(),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("the built-in default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "environment variable {v}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{key}: no such setting (in {origin}); cpor.example.toml lists them all")]
    Unknown { key: String, origin: Source },
    #[error("{key} = `{value}` (from {origin}): {reason}")]
    Invalid {
        key: String,
        value: String,
        origin: Source,
        reason: String,
    },
}

/// How the environment is read (the process's, or a test's).
pub type Env = Box<dyn Fn(&str) -> Option<String>>;

/// The layers, before any section is read.
pub struct Layers {
    file: Option<(PathBuf, toml::Table)>,
    env: Env,
    /// The names of the environment's `CPOR_…` variables: one in a
    /// section's namespace (`CPOR_MAIL_…`) must name one of its keys.
    env_names: Vec<String>,
    /// `section.key` (or `data_dir`) → (flag, value).
    flags: BTreeMap<String, (String, toml::Value)>,
}

impl Layers {
    /// The file (`explicit`, else `CPOR_CONFIG`, else `./cpor.toml` when
    /// present) and the process environment.
    pub fn load(explicit: Option<&Path>) -> Result<Layers, ConfigError> {
        let from_env = std::env::var_os("CPOR_CONFIG").map(PathBuf::from);
        let path = explicit
            .map(Path::to_path_buf)
            .or(from_env)
            .or_else(|| Some(PathBuf::from("cpor.toml")).filter(|p| p.is_file()));
        let file = match path {
            None => None,
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| ConfigError::File {
                    path: p.clone(),
                    reason: e.to_string(),
                })?;
                Some((p, text))
            }
        };
        let names = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with("CPOR_"))
            .collect();
        Ok(
            Layers::from_parts(file, Box::new(|name| std::env::var(name).ok()))?
                .with_env_names(names),
        )
    }

    /// The names of the environment's variables, checked by `section`
    /// (a lookup alone cannot list them).
    pub fn with_env_names(mut self, names: Vec<String>) -> Layers {
        self.env_names = names;
        self
    }

    /// Layers from a file's text (if any) and an environment lookup.
    pub fn from_parts(file: Option<(PathBuf, String)>, env: Env) -> Result<Layers, ConfigError> {
        let file = match file {
            None => None,
            Some((path, text)) => {
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                if let Some(key) = table.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
                    return Err(ConfigError::Unknown {
                        key: key.clone(),
                        origin: Source::File(path),
                    });
                }
                Some((path, table))
            }
        };
        Ok(Layers {
            file,
            env,
            env_names: Vec::new(),
            flags: BTreeMap::new(),
        })
    }

    /// Layers with nothing but the defaults (tests, and typed defaults).
    pub fn defaults() -> Layers {
        Layers {
            file: None,
            env: Box::new(|_| None),
            env_names: Vec::new(),
            flags: BTreeMap::new(),
        }
    }

    /// A command-line flag sets `key` (`server.listen`, `data_dir`).
    pub fn flag(&mut self, key: &str, flag: &str, value: impl Into<toml::Value>) {
        self.flags
            .insert(key.to_string(), (flag.to_string(), value.into()));
    }

    /// The data directory and where it came from.
    pub fn data_dir(&self) -> Result<(PathBuf, Source), ConfigError> {
        let mut value = (PathBuf::from("./data"), Source::Default);
        if let Some((path, table)) = &self.file {
            if let Some(v) = table.get("data_dir") {
                let s = v.as_str().ok_or_else(|| ConfigError::Invalid {
                    key: "data_dir".into(),
                    value: v.to_string(),
                    origin: Source::File(path.clone()),
                    reason: "a path, as a string".into(),
                })?;
                value = (PathBuf::from(s), Source::File(path.clone()));
            }
        }
        if let Some(v) = (self.env)("CPOR_DATA_DIR") {
            value = (PathBuf::from(v), Source::Env("CPOR_DATA_DIR".into()));
        }
        if let Some((flag, toml::Value::String(s))) = self.flags.get("data_dir") {
            value = (PathBuf::from(s), Source::Flag(flag.clone()));
        }
        if value.0.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "data_dir".into(),
                value: String::new(),
                origin: value.1,
                reason: "must not be empty".into(),
            });
        }
        Ok(value)
    }

    /// Reads section `name` as `T`: its defaults, then the file's
    /// `[name]` table, the `CPOR_<NAME>_<KEY>` variables and the flags, each
    /// value checked against the type of its default.
    pub fn section<T: Serialize + DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<Section<T>, ConfigError> {
        self.read_section(name, true)
    }

    /// Reads only the keys of section `name` that `T` has, leaving the
    /// others (and their checking: an unknown key, a variable that names
    /// none) to the section's owner, which reads it whole: a program that
    /// needs one of another's settings (the mail's footer, the server's
    /// maintenance window).
    pub fn section_part<T: Serialize + DeserializeOwned + Default>(
        &self,
        name: &str,
    ) -> Result<Section<T>, ConfigError> {
        self.read_section(name, false)
    }

    /// `[server]`'s maintenance window, read alone ([`Self::section_part`]),
    /// by the rule the server reads it with ([`Section::maintenance`]).
    pub fn maintenance(&self) -> Result<Maintenance, ConfigError> {
        let s: Section<MaintenanceKeys> = self.section_part("server")?;
        s.maintenance(&s.raw.maintenance_start, &s.raw.maintenance_end)
    }

    fn read_section<T: Serialize + DeserializeOwned + Default>(
        &self,
        name: &str,
        strict: bool,
    ) -> Result<Section<T>, ConfigError> {
        let toml::Value::Table(mut table) =
            toml::Value::try_from(T::default()).expect("a section serialises to a table")
        else {
            panic!("section {name} is not a table");
        };
        let mut sources: BTreeMap<String, Source> =
            table.keys().map(|k| (k.clone(), Source::Default)).collect();
        let mut set = |table: &mut toml::Table, key: &str, value: toml::Value, source: Source| {
            let Some(default) = table.get(key) else {
                if !strict {
                    return Ok(());
                }
                return Err(ConfigError::Unknown {
                    key: format!("{name}.{key}"),
                    origin: source,
                });
            };
            let value =
                same_type(default, value).map_err(|(value, expected)| ConfigError::Invalid {
                    key: format!("{name}.{key}"),
                    value,
                    origin: source.clone(),
                    reason: format!("expected {expected}"),
                })?;
            table.insert(key.to_string(), value);
            sources.insert(key.to_string(), source);
            Ok(())
        };
        if let Some((path, file)) = &self.file {
            if let Some(section) = file.get(name) {
                let toml::Value::Table(section) = section else {
                    return Err(ConfigError::Invalid {
                        key: name.to_string(),
                        value: section.to_string(),
                        origin: Source::File(path.clone()),
                        reason: format!("expected a [{name}] table"),
                    });
                };
                for (k, v) in section {
                    set(&mut table, k, v.clone(), Source::File(path.clone()))?;
                }
            }
        }
        // Each key's variable, `CPOR_<NAME>_<KEY>`; one in the section's
        // namespace that is none of them is a typo.
        let prefix = format!("CPOR_{}_", name.to_uppercase());
        let vars: Vec<(String, String)> = table
            .keys()
            .map(|key| (key.clone(), format!("{prefix}{}", key.to_uppercase())))
            .collect();
        let unknown = self.env_names.iter().find(|var| {
            strict && var.starts_with(&prefix) && !vars.iter().any(|(_, known)| known == *var)
        });
        if let Some(var) = unknown {
            return Err(ConfigError::Unknown {
                key: format!("{name}.{}", var[prefix.len()..].to_lowercase()),
                origin: Source::Env(var.clone()),
            });
        }
        for (key, var) in vars {
            if let Some(raw) = (self.env)(&var) {
                set(&mut table, &key, toml::Value::String(raw), Source::Env(var))?;
            }
        }
        for (path, (flag, v)) in &self.flags {
            if let Some(key) = path.strip_prefix(name).and_then(|k| k.strip_prefix('.')) {
                set(&mut table, key, v.clone(), Source::Flag(flag.clone()))?;
            }
        }
        let raw = T::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
            key: name.to_string(),
            value: String::new(),
            origin: Source::Default,
            reason: e.to_string(),
        })?;
        Ok(Section {
            name: name.to_string(),
            raw,
            sources,
        })
    }
}

/// Converts `value` to the TOML type of `default`: strings from the
/// environment parse as numbers and booleans; an integer is a float where a
/// float is expected. On failure: the value as given, and what was expected.
fn same_type(
    default: &toml::Value,
    value: toml::Value,
) -> Result<toml::Value, (String, &'static str)> {
    use toml::Value as V;
    let shown = |v: &V| match v {
        V::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (default, value) {
        (V::String(_), v @ V::String(_)) => Ok(v),
        (V::Integer(_), v @ V::Integer(_)) => Ok(v),
        (V::Integer(_), V::String(s)) => s
            .trim()
            .parse()
            .map(V::Integer)
            .map_err(|_| (s, "a whole number")),
        (V::Float(_), v @ V::Float(_)) => Ok(v),
        (V::Float(_), V::Integer(i)) => Ok(V::Float(i as f64)),
        (V::Float(_), V::String(s)) => s.trim().parse().map(V::Float).map_err(|_| (s, "a number")),
        (V::Boolean(_), v @ V::Boolean(_)) => Ok(v),
        (V::Boolean(_), V::String(s)) => s
            .trim()
            .parse()
            .map(V::Boolean)
            .map_err(|_| (s, "true or false")),
        // A list from the environment: comma-separated (`7,1`; empty: none).
        (V::Array(_), V::String(s)) => toml::from_str::<toml::Table>(&format!("v = [{s}]"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .ok_or((s, "a comma-separated list")),
        (V::String(_), v) => Err((shown(&v), "a string")),
        (V::Integer(_), v) => Err((shown(&v), "a whole number")),
        (V::Float(_), v) => Err((shown(&v), "a number")),
        (V::Boolean(_), v) => Err((shown(&v), "true or false")),
        (_, v) => Ok(v),
    }
}

/// One section as read, with the source of each key, ready to be turned
/// into typed values by the crate that owns it.
pub struct Section<T> {
    pub name: String,
    pub raw: T,
    sources: BTreeMap<String, Source>,
}

impl<T> Section<T> {
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// The error for a bad value of `key`.
    pub fn invalid(
        &self,
        key: &str,
        value: impl fmt::Display,
        reason: impl fmt::Display,
    ) -> ConfigError {
        ConfigError::Invalid {
            key: format!("{}.{key}", self.name),
            value: value.to_string(),
            origin: self.source(key),
            reason: reason.to_string(),
        }
    }

    /// A time of day, `HH:MM` (Asia/Taipei wherever cpor uses one).
    pub fn time_of_day(&self, key: &str, value: &str) -> Result<NaiveTime, ConfigError> {
        NaiveTime::parse_from_str(value.trim(), "%H:%M")
            .map_err(|_| self.invalid(key, value, "not a time of day (HH:MM, 24 h)"))
    }

    /// The maintenance window from its two keys' values, `HH:MM` each: the
    /// one rule for the server, which reads `[server]` whole, and the mail,
    /// which reads these two alone ([`Layers::maintenance`]).
    pub fn maintenance(&self, start: &str, end: &str) -> Result<Maintenance, ConfigError> {
        Ok(Maintenance {
            start: self.time_of_day("maintenance_start", start)?,
            end: self.time_of_day("maintenance_end", end)?,
        })
    }

    /// A whole number of seconds, at least `min`.
    pub fn seconds(
        &self,
        key: &str,
        value: u64,
        min: u64,
    ) -> Result<std::time::Duration, ConfigError> {
        if value < min {
            return Err(self.invalid(key, value, format!("at least {min} seconds")));
        }
        Ok(std::time::Duration::from_secs(value))
    }

    /// A share between 0 and 1.
    pub fn share(&self, key: &str, value: f64) -> Result<f64, ConfigError> {
        if !(0.0..=1.0).contains(&value) {
            return Err(self.invalid(key, value, "a share between 0 and 1"));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A review of the pages (the forty-fifth session): a link's deadline
    /// fell while the site was closed (a night's activation links, made at
    /// 01:12, "請在 115/12/08 01:12 前"; a reset asked at 00:25, good to
    /// 00:55), usable only until 00:30. A deadline in the window moves to
    /// its end; one outside stays.
    #[test]
    fn a_deadline_in_the_maintenance_window_moves_past_it_by_its_length() {
        let w = Maintenance::default();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(w.seconds_left(t(1, 12)), Some(108 * 60));
        assert_eq!(w.seconds_left(t(0, 30)), Some(150 * 60));
        assert_eq!(w.seconds_left(t(3, 0)), None);
        assert_eq!(w.seconds_left(t(0, 29)), None);
        let across = Maintenance {
            start: t(23, 0),
            end: t(1, 0),
        };
        assert_eq!(across.seconds_left(t(23, 30)), Some(90 * 60));
        assert_eq!(across.seconds_left(t(0, 30)), Some(30 * 60));
        // A signed-in page warns before the next start.
        assert_eq!(w.seconds_to_start(t(0, 25)), Some(5 * 60));
        assert_eq!(w.seconds_to_start(t(3, 0)), Some(21 * 3600 + 30 * 60));
        assert_eq!(w.seconds_to_start(t(1, 0)), None);
        assert_eq!(across.seconds_to_start(t(22, 59)), Some(60));
        assert_eq!(across.seconds_to_start(t(1, 0)), Some(22 * 3600));
        let none = Maintenance {
            start: t(0, 30),
            end: t(0, 30),
        };
        assert_eq!(none.seconds_to_start(t(0, 29)), None);
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        // 01:12 and 00:55 in Taipei: moved by the window's 2 h 30 min, to
        // 03:42 and 03:25 (not 03:00, the moment the site opens: the time
        // review of the forty-seventh session).
        assert_eq!(
            w.open_by(at("2026-12-07T17:12:00Z")),
            at("2026-12-07T19:42:00Z")
        );
        assert_eq!(
            w.open_by(at("2026-12-06T16:55:00Z")),
            at("2026-12-06T19:25:00Z")
        );
        // At the window's first second the window took none of its time:
        // the window's end.
        assert_eq!(
            w.open_by(at("2026-12-06T16:30:00Z")),
            at("2026-12-06T19:00:00Z")
        );
        // A window across midnight, 23:00 to 01:00: 00:30 moves to 02:30.
        assert_eq!(
            across.open_by(at("2026-12-06T16:30:00Z")),
            at("2026-12-06T18:30:00Z")
        );
        assert_eq!(
            w.open_by(at("2026-12-07T05:00:00Z")),
            at("2026-12-07T05:00:00Z")
        );
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        keep: u64,
        share: f64,
        name: String,
        on: bool,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                keep: 7,
                share: 0.02,
                name: "x".into(),
                on: true,
            }
        }
    }

    fn layers(file: &str, env: &'static [(&'static str, &'static str)]) -> Layers {
        Layers::from_parts(
            Some((PathBuf::from("/etc/cpor.toml"), file.to_string())),
            Box::new(move |name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }),
        )
        .unwrap()
        .with_env_names(env.iter().map(|(k, _)| k.to_string()).collect())
    }

    /// The admin walk (session 27): `CPOR_MAIL_SMTP_HOTS=…` was ignored, and
    /// `send` wrote the night's mail as files, marked sent, with no word.
    /// A variable of a section's namespace that names none of its keys is
    /// refused as a key in the file is; others' (`CPOR_LOG`, a script's
    /// own) are not the settings' to judge.
    #[test]
    fn a_variable_in_a_sections_namespace_that_names_no_key_is_refused() {
        let l = layers("", &[("CPOR_IMPORT_KEEPP", "9"), ("CPOR_LOG", "debug")]);
        let err = l.section::<Demo>("import").err().unwrap().to_string();
        assert_eq!(
            err,
            "import.keepp: no such setting (in environment variable CPOR_IMPORT_KEEPP); \
             cpor.example.toml lists them all"
        );
        // Another section's variables are that section's to check.
        let l = layers("", &[("CPOR_MAIL_SMTP_HOTS", "x")]);
        assert!(l.section::<Demo>("import").is_ok());
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults_and_flags_win() {
        let mut l = layers(
            "data_dir = '/srv/cpor'\n[import]\nkeep = 3\nshare = 1\n",
            &[("CPOR_IMPORT_KEEP", "9"), ("CPOR_IMPORT_NAME", "from env")],
        );
        l.flag("import.on", "--off", false);
        let s: Section<Demo> = l.section("import").unwrap();
        assert_eq!(s.raw.keep, 9);
        assert_eq!(
            s.raw.share, 1.0,
            "an integer is a float where one is expected"
        );
        assert_eq!(s.raw.name, "from env");
        assert!(!s.raw.on);
        assert_eq!(s.source("keep"), Source::Env("CPOR_IMPORT_KEEP".into()));
        assert_eq!(s.source("share"), Source::File("/etc/cpor.toml".into()));
        assert_eq!(s.source("on"), Source::Flag("--off".into()));
        let (dir, source) = l.data_dir().unwrap();
        assert_eq!(dir, PathBuf::from("/srv/cpor"));
        assert_eq!(source, Source::File("/etc/cpor.toml".into()));
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_the_source() {
        let l = layers("", &[("CPOR_IMPORT_KEEP", "many")]);
        let err = l.section::<Demo>("import").err().unwrap().to_string();
        assert_eq!(
            err,
            "import.keep = `many` (from environment variable CPOR_IMPORT_KEEP): expected a whole number"
        );
        let l = layers("[import]\nname = 5\n", &[]);
        let err = l.section::<Demo>("import").err().unwrap().to_string();
        assert!(
            err.starts_with("import.name = `5` (from file /etc/cpor.toml)"),
            "{err}"
        );
        let s: Section<Demo> = Layers::defaults().section("import").unwrap();
        let err = s.time_of_day("name", "25:00").unwrap_err().to_string();
        assert_eq!(
            err,
            "import.name = `25:00` (from the built-in default): not a time of day (HH:MM, 24 h)"
        );
    }

    #[test]
    fn unknown_sections_and_keys_are_errors() {
        let err = Layers::from_parts(
            Some(("c.toml".into(), "[mial]\nfrom = 'x'\n".into())),
            Box::new(|_| None),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.starts_with("mial: no such setting"), "{err}");
        let l = layers("[import]\nkep = 3\n", &[]);
        let err = l.section::<Demo>("import").err().unwrap().to_string();
        assert!(err.starts_with("import.kep: no such setting"), "{err}");
    }
}
