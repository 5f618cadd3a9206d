//! The Prometheus text format (version 0.0.4) of the counters and of what the database says at
//! scrape time.

use super::{by_status, line, Metrics, BUCKETS, CLASSES, FLOWS, REFRESHES};
use app::error::ErrorCode;
use std::sync::atomic::Ordering::Relaxed;

/// The database pool now.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

pub fn all(m: &Metrics, statuses: &[(String, i64)], pool: Pool, out: &mut String) {
    let name = "liaison_api_calls_total";
    head(
        out,
        name,
        "counter",
        "Calls of the scripts' API (proxy and invoke) by status class and code: Liaison's error code, or `upstream` for the service's own answer.",
    );
    for (class, row) in CLASSES.iter().zip(&m.calls) {
        for (i, n) in row.iter().enumerate() {
            let n = n.load(Relaxed);
            // The service's 2xx always shows, so a dashboard has a series from the first scrape.
            if n > 0 || (i == 0 && *class == "2xx") {
                let code = if i == 0 { "upstream" } else { ErrorCode::API[i - 1].as_str() };
                line(out, name, &format!("class=\"{class}\",code=\"{code}\""), n);
            }
        }
    }

    let name = "liaison_api_added_latency_seconds";
    head(
        out,
        name,
        "histogram",
        "Time Liaison adds to a call of the scripts' API, up to the answer's head: the whole call less the time waiting for the service (refreshes on the way included).",
    );
    let mut cumulative = 0;
    for (i, bound) in BUCKETS.iter().enumerate() {
        cumulative += m.latency[i].load(Relaxed);
        line(out, &format!("{name}_bucket"), &format!("le=\"{bound}\""), cumulative);
    }
    cumulative += m.latency[BUCKETS.len()].load(Relaxed);
    line(out, &format!("{name}_bucket"), "le=\"+Inf\"", cumulative);
    line(out, &format!("{name}_sum"), "", m.latency_micros.load(Relaxed) as f64 / 1e6);
    line(out, &format!("{name}_count"), "", cumulative);

    let name = "liaison_refreshes_total";
    head(out, name, "counter", "Token refreshes at providers' token endpoints, by outcome.");
    for ((_, outcome), n) in REFRESHES.iter().zip(&m.refreshes) {
        line(out, name, &format!("outcome=\"{outcome}\""), n.load(Relaxed));
    }

    let name = "liaison_flows_total";
    head(out, name, "counter", "Authorisation flows (the popup): started, finished (connected) and failed.");
    for ((_, event), n) in FLOWS.iter().zip(&m.flows) {
        line(out, name, &format!("event=\"{event}\""), n.load(Relaxed));
    }

    let name = "liaison_connections";
    head(out, name, "gauge", "Connections by status, counted at scrape time.");
    for (status, n) in by_status(statuses) {
        line(out, name, &format!("status=\"{status}\""), n);
    }

    let name = "liaison_db_pool_connections";
    head(out, name, "gauge", "Database pool connections, in use and idle.");
    let idle = u32::try_from(pool.idle).unwrap_or(u32::MAX).min(pool.size);
    line(out, name, "state=\"in_use\"", pool.size - idle);
    line(out, name, "state=\"idle\"", idle);
    let name = "liaison_db_pool_max_connections";
    head(out, name, "gauge", "The pool's size limit (db_max_connections).");
    line(out, name, "", pool.max);
}

#[cfg(test)]
mod tests {
    use super::super::{Flow, Refresh};
    use super::*;
    use std::time::Duration;

    fn rendered(m: &Metrics, statuses: &[(String, i64)]) -> String {
        let mut out = String::new();
        all(m, statuses, Pool { size: 3, idle: 1, max: 8 }, &mut out);
        out
    }

    #[test]
    fn every_series_is_from_a_fixed_list() {
        let m = Metrics::new();
        m.call(200, None);
        m.call(404, None);
        m.call(404, Some("connection_not_found"));
        m.call(999, Some("no such code"));
        m.added(Duration::from_micros(700));
        m.added(Duration::from_secs(10));
        m.refreshed(Refresh::Ok);
        m.flowed(Flow::Started);
        m.flowed(Flow::Failed);
        let out = rendered(&m, &[("connected".into(), 4), ("made_up".into(), 9)]);
        for expected in [
            "liaison_api_calls_total{class=\"2xx\",code=\"upstream\"} 1\n",
            "liaison_api_calls_total{class=\"4xx\",code=\"upstream\"} 1\n",
            "liaison_api_calls_total{class=\"4xx\",code=\"connection_not_found\"} 1\n",
            "liaison_api_calls_total{class=\"other\",code=\"internal\"} 1\n",
            "liaison_api_added_latency_seconds_bucket{le=\"0.0005\"} 0\n",
            "liaison_api_added_latency_seconds_bucket{le=\"0.001\"} 1\n",
            "liaison_api_added_latency_seconds_bucket{le=\"2.5\"} 1\n",
            "liaison_api_added_latency_seconds_bucket{le=\"+Inf\"} 2\n",
            "liaison_api_added_latency_seconds_sum 10.0007\n",
            "liaison_api_added_latency_seconds_count 2\n",
            "liaison_refreshes_total{outcome=\"ok\"} 1\n",
            "liaison_refreshes_total{outcome=\"retry_later\"} 0\n",
            "liaison_flows_total{event=\"started\"} 1\n",
            "liaison_flows_total{event=\"failed\"} 1\n",
            "liaison_connections{status=\"connected\"} 4\n",
            "liaison_connections{status=\"revoked\"} 0\n",
            "liaison_db_pool_connections{state=\"in_use\"} 2\n",
            "liaison_db_pool_max_connections 8\n",
        ] {
            assert!(out.contains(expected), "{expected} not in:\n{out}");
        }
        assert!(!out.contains("made_up") && !out.contains("no such code"), "{out}");
        for l in out.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
            assert!(series.starts_with("liaison_"), "{l}");
        }
    }
}
