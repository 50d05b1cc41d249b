//! `cpor-gen`: writes realistic nightly export batches (see the library).

use std::path::PathBuf;

use clap::Parser;

/// Writes realistic, deterministic nightly export batches for benchmarks and
/// tests: `<OUT>/<YYYYMMDD>/` for each night.
#[derive(Parser)]
#[command(name = "cpor-gen")]
struct Cli {
    /// Output directory (batches are written below it)
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed and sizes give the same bytes
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cases of the first night, over all courts (national: 1000000)
    #[arg(long, default_value_t = 1_000_000)]
    cases: u64,
    /// First night, YYYYMMDD
    #[arg(long, default_value = "20261123")]
    first_night: String,
    /// Number of consecutive nights
    #[arg(long, default_value_t = 2)]
    nights: u32,
    /// Only these courts (comma-separated codes); all when absent
    #[arg(long, value_delimiter = ',')]
    courts: Vec<String>,
    /// Share of cases with new entries on each later night
    #[arg(long, default_value_t = 0.05)]
    news_share: f64,
    /// Worker threads (0 = one per core)
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    rayon::ThreadPoolBuilder::new()
        .num_threads(cli.threads)
        .build_global()?;
    let first_night = chrono::NaiveDate::parse_from_str(&cli.first_night, "%Y%m%d")?;
    let dirs = generator::generate(
        &cli.out,
        &generator::Params {
            seed: cli.seed,
            cases: cli.cases,
            first_night,
            nights: cli.nights,
            courts: cli.courts,
            news_share: cli.news_share,
        },
    )?;
    for d in dirs {
        println!("{}", d.display());
    }
    Ok(())
}
