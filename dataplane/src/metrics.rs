//! ALB metrics as ALB publishes them: per load balancer and per (load balancer, target group),
//! into the emulator's CloudWatch under `AWS/ApplicationELB`, with the real dimension forms
//! (`LoadBalancer=app/<name>/<id>`, `TargetGroup=targetgroup/<name>/<id>`), once per period.

use aws_sdk_cloudwatch as cloudwatch;
use cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// What one period saw for one dimension set.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    pub requests: u64,
    pub target_2xx: u64,
    pub target_4xx: u64,
    pub target_5xx: u64,
    pub elb_5xx: u64,
    pub connection_errors: u64,
    /// Seconds, as TargetResponseTime is reported: (count, sum, min, max).
    pub response_time: Option<(u64, f64, f64, f64)>,
}

/// (LoadBalancer dimension, TargetGroup dimension when the request reached a group).
type Key = (String, Option<String>);

#[derive(Default)]
pub struct Recorder {
    current: Mutex<HashMap<Key, Counters>>,
}

/// How one request ended, as the balancer saw it.
pub enum Outcome {
    /// The target answered with this status after this many seconds.
    Target(u16, f64),
    /// The target could not be reached (502).
    ConnectionError,
    /// The balancer answered itself with this status (503 no target, fixed-response, ...).
    Balancer(u16),
}

impl Recorder {
    pub fn record(&self, lb: &str, tg: Option<&str>, outcome: &Outcome) {
        let mut current = self.current.lock().expect("metrics lock");
        let lb_key = (lb.to_owned(), None);
        let mut keys = vec![lb_key];
        if let Some(tg) = tg {
            keys.push((lb.to_owned(), Some(tg.to_owned())));
        }
        for key in keys {
            let c = current.entry(key).or_default();
            c.requests += 1;
            match *outcome {
                Outcome::Target(status, seconds) => {
                    match status {
                        200..=299 => c.target_2xx += 1,
                        400..=499 => c.target_4xx += 1,
                        500..=599 => c.target_5xx += 1,
                        _ => {}
                    }
                    let (n, sum, min, max) = c.response_time.unwrap_or((0, 0.0, f64::MAX, 0.0));
                    c.response_time =
                        Some((n + 1, sum + seconds, min.min(seconds), max.max(seconds)));
                }
                Outcome::ConnectionError => {
                    c.connection_errors += 1;
                    c.elb_5xx += 1;
                }
                Outcome::Balancer(status) => {
                    if (500..=599).contains(&status) {
                        c.elb_5xx += 1;
                    }
                }
            }
        }
    }

    /// The counters since the last call.
    pub fn take(&self) -> HashMap<Key, Counters> {
        std::mem::take(&mut *self.current.lock().expect("metrics lock"))
    }
}

/// `arn:…:loadbalancer/app/name/id` → `app/name/id`; `arn:…:targetgroup/name/id` →
/// `targetgroup/name/id`.
pub fn dimension_value(arn: &str) -> String {
    let tail = arn.rsplit(':').next().unwrap_or(arn);
    tail.strip_prefix("loadbalancer/")
        .unwrap_or(tail)
        .to_owned()
}

/// The datums of one period; `hosts` gives the (healthy, unhealthy) target counts per target
/// group dimension, from the health checks.
pub fn datums(
    taken: &HashMap<Key, Counters>,
    hosts: &HashMap<Key, (usize, usize)>,
    at: SystemTime,
    high_resolution: bool,
) -> Vec<MetricDatum> {
    let mut out = Vec::new();
    let resolution = if high_resolution { 1 } else { 60 };
    let dims = |(lb, tg): &Key| {
        let mut d = vec![Dimension::builder().name("LoadBalancer").value(lb).build()];
        if let Some(tg) = tg {
            d.insert(
                0,
                Dimension::builder().name("TargetGroup").value(tg).build(),
            );
        }
        d
    };
    let count = |name: &str, key: &Key, value: u64| {
        MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(dims(key)))
            .timestamp(at.into())
            .value(value as f64)
            .unit(StandardUnit::Count)
            .storage_resolution(resolution)
            .build()
    };
    for (key, c) in taken {
        out.push(count("RequestCount", key, c.requests));
        out.push(count("HTTPCode_Target_2XX_Count", key, c.target_2xx));
        out.push(count("HTTPCode_Target_4XX_Count", key, c.target_4xx));
        out.push(count("HTTPCode_Target_5XX_Count", key, c.target_5xx));
        out.push(count(
            "TargetConnectionErrorCount",
            key,
            c.connection_errors,
        ));
        if key.1.is_none() {
            out.push(count("HTTPCode_ELB_5XX_Count", key, c.elb_5xx));
        }
        if let Some((n, sum, min, max)) = c.response_time {
            let stats = StatisticSet::builder()
                .sample_count(n as f64)
                .sum(sum)
                .minimum(min)
                .maximum(max)
                .build();
            out.push(
                MetricDatum::builder()
                    .metric_name("TargetResponseTime")
                    .set_dimensions(Some(dims(key)))
                    .timestamp(at.into())
                    .statistic_values(stats)
                    .unit(StandardUnit::Seconds)
                    .storage_resolution(resolution)
                    .build(),
            );
        }
    }
    for (key, (healthy, unhealthy)) in hosts {
        out.push(count("HealthyHostCount", key, *healthy as u64));
        out.push(count("UnHealthyHostCount", key, *unhealthy as u64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_have_the_alb_forms() {
        assert_eq!(
            dimension_value(
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/bg-local-alb/7e25"
            ),
            "app/bg-local-alb/7e25"
        );
        assert_eq!(
            dimension_value(
                "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/bg-local-blue/e63f"
            ),
            "targetgroup/bg-local-blue/e63f"
        );
    }

    #[test]
    fn a_request_counts_for_its_load_balancer_and_its_target_group() {
        let r = Recorder::default();
        r.record(
            "app/a/1",
            Some("targetgroup/b/2"),
            &Outcome::Target(200, 0.002),
        );
        r.record(
            "app/a/1",
            Some("targetgroup/b/2"),
            &Outcome::Target(500, 0.004),
        );
        r.record(
            "app/a/1",
            Some("targetgroup/b/2"),
            &Outcome::ConnectionError,
        );
        r.record("app/a/1", None, &Outcome::Balancer(503));
        let taken = r.take();
        let lb = &taken[&("app/a/1".to_string(), None)];
        let tg = &taken[&("app/a/1".to_string(), Some("targetgroup/b/2".to_string()))];
        assert_eq!((lb.requests, lb.elb_5xx, lb.target_5xx), (4, 2, 1));
        assert_eq!(
            (
                tg.requests,
                tg.target_2xx,
                tg.target_5xx,
                tg.connection_errors
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(tg.response_time.map(|t| t.0), Some(2));
        assert!(r.take().is_empty());
    }
}
