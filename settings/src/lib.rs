//! Configuration: built-in defaults that work on a laptop, overridden by a
//! TOML file (`--config`, `CPOR_CONFIG`, or `./cpor.toml` when present), then
//! by environment variables, then by command-line flags.
//!
//! Every key has an environment variable named after its path:
//! `data_dir` → `CPOR_DATA_DIR`, `[import] reject_share` →
//! `CPOR_IMPORT_REJECT_SHARE`. `cpor.example.toml` documents them all.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Files larger than about this are parsed in parallel chunks (4 MiB:
/// measured on the national batch, docs/BENCHMARKS.md).
pub const DEFAULT_CHUNK_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub import: ImportConfig,
    pub mail: MailConfig,
    pub server: ServerConfig,
}

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
            fixed_captcha: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Whether imports queue mail at all.
    pub enabled: bool,
    /// The sender, `Name <address>`.
    pub from: String,
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
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            enabled: true,
            from: "案件進度查詢 <noreply@cpor.localhost>".into(),
            site_url: "http://localhost:8080".into(),
            smtp_host: String::new(),
            smtp_port: 25,
            smtp_security: "none".into(),
            smtp_user: String::new(),
            smtp_password: String::new(),
            smtp_timeout_seconds: 30,
            smtp_connections: 4,
            window_start: "07:00".into(),
            window_end: "21:00".into(),
            spread_minutes: 20,
            retry_base_seconds: 300,
            retry_hours: 72,
            activation_days: 14,
            flood_share: 0.3,
            flood_min_cases: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// A court is unusable when rejects exceed this share of its rows...
    pub reject_share: f64,
    /// ...and are at least this many.
    pub reject_floor: u64,
    /// Published snapshots to keep (by date).
    pub keep_snapshots: u64,
    /// Worker threads; 0 means one per core.
    pub threads: u64,
    /// Rejects listed in the report per court (all are counted).
    pub max_listed_rejects: u64,
    /// Files larger than about this are parsed in parallel chunks.
    pub chunk_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            import: ImportConfig::default(),
            mail: MailConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

impl Default for ImportConfig {
    fn default() -> Self {
        let contract = schemas::contract();
        ImportConfig {
            reject_share: contract.defaults.reject_share,
            reject_floor: contract.defaults.reject_floor,
            keep_snapshots: 7,
            threads: 0,
            max_listed_rejects: 10_000,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        }
    }
}

impl Config {
    /// Loads the configuration: defaults, then the file, then environment.
    pub fn load(explicit: Option<&Path>) -> Result<Config, String> {
        let env_path = std::env::var_os("CPOR_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(env_path);
        let mut value = toml::Value::try_from(Config::default()).map_err(|e| e.to_string())?;
        let file = match path {
            Some(p) => Some(p),
            None => Some(PathBuf::from("cpor.toml")).filter(|p| p.is_file()),
        };
        if let Some(p) = file {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let from_file: toml::Value =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            merge(&mut value, from_file);
        }
        apply_env(&mut value, "CPOR", &|name| std::env::var(name).ok())?;
        value
            .try_into()
            .map_err(|e: toml::de::Error| format!("configuration: {e}"))
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Overrides every known key from `<PREFIX>_<PATH>` variables, parsed as the
/// type the key already has.
fn apply_env(
    value: &mut toml::Value,
    prefix: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let toml::Value::Table(table) = value else {
        return Ok(());
    };
    for (key, slot) in table.iter_mut() {
        let name = format!("{prefix}_{}", key.to_uppercase());
        if let toml::Value::Table(_) = slot {
            apply_env(slot, &name, get)?;
            continue;
        }
        let Some(raw) = get(&name) else { continue };
        let bad = |e: &dyn std::fmt::Display| format!("{name}=`{raw}`: {e}");
        *slot = match slot {
            toml::Value::Integer(_) => toml::Value::Integer(raw.parse().map_err(|e| bad(&e))?),
            toml::Value::Float(_) => toml::Value::Float(raw.parse().map_err(|e| bad(&e))?),
            toml::Value::Boolean(_) => toml::Value::Boolean(raw.parse().map_err(|e| bad(&e))?),
            _ => toml::Value::String(raw.clone()),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let mut value = toml::Value::try_from(Config::default()).unwrap();
        merge(
            &mut value,
            toml::from_str(
                "data_dir = '/srv/cpor'\n[import]\nreject_floor = 5\nkeep_snapshots = 3",
            )
            .unwrap(),
        );
        let env = |name: &str| match name {
            "CPOR_IMPORT_KEEP_SNAPSHOTS" => Some("9".to_string()),
            "CPOR_IMPORT_REJECT_SHARE" => Some("0.05".to_string()),
            _ => None,
        };
        apply_env(&mut value, "CPOR", &env).unwrap();
        let c: Config = value.try_into().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/cpor"));
        assert_eq!(c.import.reject_floor, 5);
        assert_eq!(c.import.keep_snapshots, 9);
        assert_eq!(c.import.reject_share, 0.05);
        assert_eq!(c.import.threads, 0);
    }

    #[test]
    fn bad_environment_values_are_named() {
        let mut value = toml::Value::try_from(Config::default()).unwrap();
        let env = |name: &str| (name == "CPOR_IMPORT_REJECT_FLOOR").then(|| "many".to_string());
        let err = apply_env(&mut value, "CPOR", &env).unwrap_err();
        assert!(err.starts_with("CPOR_IMPORT_REJECT_FLOOR=`many`"), "{err}");
    }

    #[test]
    fn the_example_file_is_complete_and_valid() {
        let text = include_str!("../../cpor.example.toml");
        let parsed: Config =
            toml::from_str(text).expect("cpor.example.toml parses with deny_unknown_fields");
        let defaults = Config::default();
        assert_eq!(parsed.import.reject_share, defaults.import.reject_share);
        assert_eq!(parsed.import.keep_snapshots, defaults.import.keep_snapshots);
        assert_eq!(parsed.mail.window_start, defaults.mail.window_start);
        assert_eq!(parsed.mail.retry_hours, defaults.mail.retry_hours);
        assert_eq!(parsed.mail.flood_share, defaults.mail.flood_share);
    }
}
