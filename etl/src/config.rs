//! What `cpor-etl` reads of the configuration: `data_dir`, `[import]` and
//! `[mail]` (never the website's `[server]`), checked once at start-up,
//! before any work (`settings` has the layers and the error type).

use std::path::PathBuf;

use mail::MailSettings;
use serde::{Deserialize, Serialize};
use settings::{ConfigError, Layers, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// A court is unusable when rejects exceed this share of its rows...
    pub reject_share: f64,
    /// ...and are at least this many.
    pub reject_floor: u64,
    /// A court whose cases or grants tonight are fewer than the previous
    /// snapshot's by more than this share...
    pub shrink_share: f64,
    /// ...and by at least this many is carried over, as an export that
    /// failed (`--accept-shrink` imports it).
    pub shrink_floor: u64,
    /// Published snapshots to keep (by date).
    pub keep_snapshots: u64,
    /// Worker threads; 0 means one per core (resolved when checked:
    /// [`ImportConfig::from_section`] never gives 0).
    pub threads: u64,
    /// Rejects listed in the report per court (all are counted).
    pub max_listed_rejects: u64,
    /// Files larger than about this are parsed in parallel chunks.
    pub chunk_bytes: u64,
    /// How long an import waits for the import lock held by another run
    /// (a `send` catching up, an administrator's command) before it gives
    /// up (exit 5).
    pub lock_wait_seconds: u64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        let contract = schemas::contract();
        ImportConfig {
            reject_share: contract.defaults.reject_share,
            reject_floor: contract.defaults.reject_floor,
            shrink_share: 0.5,
            shrink_floor: 10,
            keep_snapshots: 7,
            threads: 0,
            max_listed_rejects: 10_000,
            chunk_bytes: crate::kinds::scan::CHUNK as u64,
            lock_wait_seconds: 600,
        }
    }
}

impl ImportConfig {
    /// Checks `[import]`: the values are already numbers; their ranges are
    /// checked here.
    pub fn from_section(s: &Section<ImportConfig>) -> Result<ImportConfig, ConfigError> {
        let mut c = s.raw.clone();
        s.share("reject_share", c.reject_share)?;
        s.share("shrink_share", c.shrink_share)?;
        if c.keep_snapshots == 0 {
            return Err(s.invalid("keep_snapshots", 0, "at least 1 (the live snapshot)"));
        }
        if c.chunk_bytes < 64 {
            return Err(s.invalid("chunk_bytes", c.chunk_bytes, "at least 64 bytes"));
        }
        if c.lock_wait_seconds > 3600 {
            return Err(s.invalid(
                "lock_wait_seconds",
                c.lock_wait_seconds,
                "at most 3600 (an hour; 0: do not wait)",
            ));
        }
        if c.threads > 256 {
            return Err(s.invalid(
                "threads",
                c.threads,
                "at most 256 (0: one per core; more than the cores only adds memory)",
            ));
        }
        if c.threads == 0 {
            c.threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        }
        Ok(c)
    }
}

/// `cpor-etl`'s configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Where `data_dir` came from: the built-in default means no file,
    /// variable or flag named one (a forgotten `CPOR_CONFIG`).
    pub data_dir_source: settings::Source,
    pub import: ImportConfig,
    pub mail: MailSettings,
}

impl Config {
    /// Reads and checks everything `cpor-etl` uses.
    pub fn load(layers: &Layers) -> Result<Config, ConfigError> {
        let (data_dir, data_dir_source) = layers.data_dir()?;
        Ok(Config {
            data_dir,
            data_dir_source,
            import: ImportConfig::from_section(&layers.section("import")?)?,
            mail: MailSettings::load(layers)?,
        })
    }

    /// The built-in defaults with this data directory (tests, tools).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let mut c = Config::load(&Layers::defaults()).expect("the defaults are valid");
        c.data_dir = data_dir.into();
        c.data_dir_source = settings::Source::Flag("(given by the caller)".into());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_has_every_import_key_with_its_default() {
        let text = include_str!("../../cpor.example.toml");
        let layers = Layers::from_parts(
            Some(("cpor.example.toml".into(), text.into())),
            Box::new(|_| None),
        )
        .unwrap();
        Config::load(&layers).unwrap();
        let written: Section<ImportConfig> = layers.section("import").unwrap();
        let d = ImportConfig::default();
        assert_eq!(
            toml::Value::try_from(&written.raw).unwrap(),
            toml::Value::try_from(&d).unwrap()
        );
        let table: toml::Table = toml::from_str(text).unwrap();
        assert_eq!(
            table["import"].as_table().unwrap().len(),
            toml::Value::try_from(&d).unwrap().as_table().unwrap().len()
        );
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_source() {
        let layers = Layers::from_parts(
            None,
            Box::new(|n| (n == "CPOR_IMPORT_REJECT_SHARE").then(|| "2".to_string())),
        )
        .unwrap();
        let err = Config::load(&layers).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "import.reject_share = `2` (from environment variable CPOR_IMPORT_REJECT_SHARE)"
            ),
            "{err}"
        );
    }

    /// A thread count no machine has is refused before any work, with the
    /// range, not met as the operating system's "Resource temporarily
    /// unavailable" when the pool is built (an operator's walk).
    /// The architecture review of the fifty-third session: `threads = 0`
    /// was kept as 0 and made "one per core" in `main`, one setting read
    /// twice. It is resolved where it is checked.
    #[test]
    fn no_thread_count_means_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let with = |threads: &'static str| {
            let layers = Layers::from_parts(
                None,
                Box::new(move |n| (n == "CPOR_IMPORT_THREADS").then(|| threads.to_string())),
            )
            .unwrap();
            Config::load(&layers).unwrap().import.threads
        };
        assert_eq!(with("0"), cores);
        assert_eq!(with("3"), 3);
    }

    #[test]
    fn a_thread_count_beyond_any_machine_is_refused_with_its_range() {
        let layers = Layers::from_parts(
            None,
            Box::new(|n| (n == "CPOR_IMPORT_THREADS").then(|| "100000".to_string())),
        )
        .unwrap();
        let err = Config::load(&layers).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "import.threads = `100000` (from environment variable CPOR_IMPORT_THREADS)"
            ) && err.contains("at most 256"),
            "{err}"
        );
    }
}
