//! Prometheus metrics, as text at /metrics: requests by route and status,
//! a latency histogram by route, logins by outcome, connections open and
//! refused, and the live snapshot's date. Routes are names (`/cases/{key}`), never raw paths, so
//! the label set stays small.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Hist {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Hist>,
    logins: BTreeMap<&'static str, u64>,
    refused: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut m = self.inner.lock().expect("metrics");
        *m.requests.entry((route, status)).or_default() += 1;
        let h = m.latency.entry(route).or_default();
        h.count += 1;
        h.sum += secs;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.counts[i] += 1;
        }
    }

    /// `success`, `bad_credentials`, `bad_captcha`, `throttled`, `busy`,
    /// `unavailable`.
    pub fn login(&self, outcome: &'static str) {
        *self
            .inner
            .lock()
            .expect("metrics")
            .logins
            .entry(outcome)
            .or_default() += 1;
    }

    /// A connection refused over a limit.
    pub fn connection_refused(&self, why: crate::server::Refused) {
        *self
            .inner
            .lock()
            .expect("metrics")
            .refused
            .entry(why.as_str())
            .or_default() += 1;
    }

    /// The exposition text. `snapshot`: the live snapshot's batch date
    /// (YYYYMMDD) and name.
    /// `session_reads`: by store (`applicants`, `prosecutors`), how many
    /// times a request's session was read from the accounts database.
    pub fn render(
        &self,
        snapshot: Option<(chrono::NaiveDate, &str)>,
        connections_open: usize,
        session_reads: [(&str, u64); 2],
    ) -> String {
        let m = self.inner.lock().expect("metrics");
        let mut out = String::new();
        out.push_str("# HELP cpor_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE cpor_http_requests_total counter\n");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "cpor_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP cpor_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE cpor_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "cpor_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "cpor_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "cpor_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "cpor_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP cpor_logins_total Login attempts by outcome.\n");
        out.push_str("# TYPE cpor_logins_total counter\n");
        for outcome in [
            "success",
            "bad_credentials",
            "bad_captcha",
            "throttled",
            "busy",
            "unavailable",
        ] {
            let n = m.logins.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(out, "cpor_logins_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP cpor_connections_open Connections open now.\n");
        out.push_str("# TYPE cpor_connections_open gauge\n");
        let _ = writeln!(out, "cpor_connections_open {connections_open}");
        out.push_str(
            "# HELP cpor_connections_refused_total Connections refused over a limit (total, per address, or new ones per address and second).\n",
        );
        out.push_str("# TYPE cpor_connections_refused_total counter\n");
        for why in ["total", "per_address", "rate"] {
            let n = m.refused.get(why).copied().unwrap_or(0);
            let _ = writeln!(out, "cpor_connections_refused_total{{limit=\"{why}\"}} {n}");
        }
        out.push_str(
            "# HELP cpor_session_reads_total Sessions read from the accounts database (a process re-reads a session it holds after 0.5 s).\n",
        );
        out.push_str("# TYPE cpor_session_reads_total counter\n");
        for (store, n) in session_reads {
            let _ = writeln!(out, "cpor_session_reads_total{{store=\"{store}\"}} {n}");
        }
        out.push_str(
            "# HELP cpor_live_snapshot_date Batch date (YYYYMMDD) of the snapshot being served.\n",
        );
        out.push_str("# TYPE cpor_live_snapshot_date gauge\n");
        if let Some((date, name)) = snapshot {
            let _ = writeln!(
                out,
                "cpor_live_snapshot_date{{file=\"{name}\"}} {}",
                schemas::date::to_int(date)
            );
        }
        // (what an alert compares with `time()`: the date alone cannot be)
        out.push_str(
            "# HELP cpor_live_snapshot_timestamp_seconds Start of the served snapshot's batch \
             date, Asia/Taipei, in Unix seconds.\n",
        );
        out.push_str("# TYPE cpor_live_snapshot_timestamp_seconds gauge\n");
        if let Some((date, name)) = snapshot {
            let start = schemas::date::taipei_at(date, chrono::NaiveTime::MIN);
            let _ = writeln!(
                out,
                "cpor_live_snapshot_timestamp_seconds{{file=\"{name}\"}} {}",
                start.timestamp()
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.request("/cases/{key}", 200, Duration::from_micros(300));
        m.request("/cases/{key}", 200, Duration::from_millis(3));
        m.request("/cases/{key}", 404, Duration::from_millis(30));
        m.login("success");
        let t = m.render(
            Some((
                chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
                "20261124-1.sqlite",
            )),
            3,
            [("applicants", 5), ("prosecutors", 0)],
        );
        assert!(t.contains("cpor_http_requests_total{route=\"/cases/{key}\",status=\"200\"} 2"));
        assert!(t.contains("le=\"0.0005\"} 1\n"));
        assert!(t.contains("le=\"0.005\"} 2\n"));
        assert!(t.contains("le=\"+Inf\"} 3\n"));
        assert!(t.contains("cpor_logins_total{outcome=\"success\"} 1"));
        assert!(t.contains("cpor_live_snapshot_date{file=\"20261124-1.sqlite\"} 20261124"));
        // 2026-11-24 00:00 in Taipei is 2026-11-23 16:00 UTC.
        assert!(
            t.contains(
                "cpor_live_snapshot_timestamp_seconds{file=\"20261124-1.sqlite\"} 1795449600\n"
            ),
            "{t}"
        );
        assert!(t.contains("cpor_connections_open 3\n"));
        assert!(t.contains("cpor_connections_refused_total{limit=\"per_address\"} 0\n"));
        assert!(t.contains("cpor_session_reads_total{store=\"applicants\"} 5\n"));
    }
}
