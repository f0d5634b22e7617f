//! Target health from real health checks, as ALB does them: each registered task is sent
//! `GET <HealthCheckPath>` every `HealthCheckIntervalSeconds`; an answer within
//! `HealthCheckTimeoutSeconds` whose status the `Matcher` accepts is a success.
//! `HealthyThresholdCount` consecutive successes make a target `healthy`,
//! `UnhealthyThresholdCount` consecutive failures make it `unhealthy`; a new target is
//! `initial` (`Elb.RegistrationInProgress`) until one of the two happens.
//!
//! The states are written to a JSON file (`--target-health-file`, atomic rename) that the
//! strict launcher's `elbv2-target-health-from-file` patch answers DescribeTargetHealth from
//! (docs/dataplane.md, docs/emulator.md). The state machine (`Tracker`) and the matcher are
//! pure and unit-tested; the probing loop lives in `run.rs`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// A target group's health check settings (DescribeTargetGroups).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: Matcher,
}

impl Default for Settings {
    /// ALB's defaults for an HTTP target group.
    fn default() -> Settings {
        Settings {
            path: "/".into(),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: Matcher::parse("200"),
        }
    }
}

/// `Matcher.HttpCode`: "200", "200,202", "200-299" (ALB's forms).
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher(Vec<(u16, u16)>);

impl Matcher {
    pub fn parse(spec: &str) -> Matcher {
        let ranges = spec
            .split(',')
            .filter_map(|part| {
                let part = part.trim();
                match part.split_once('-') {
                    Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
                    None => part.parse().ok().map(|c| (c, c)),
                }
            })
            .collect();
        Matcher(ranges)
    }

    pub fn accepts(&self, status: u16) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&status))
    }
}

/// The result of one health check.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Status(u16),
    Timeout,
    /// Connection refused or reset.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Initial,
    Healthy,
    Unhealthy,
    Draining,
}

/// One target's health: its state, AWS's reason code and description, and the run of
/// consecutive results that moves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracker {
    pub state: State,
    pub reason: Option<&'static str>,
    pub description: Option<String>,
    successes: u32,
    failures: u32,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker {
            state: State::Initial,
            reason: Some("Elb.RegistrationInProgress"),
            description: Some("Target registration is in progress".into()),
            successes: 0,
            failures: 0,
        }
    }
}

impl Tracker {
    /// Applies one health check result; true when the state changed.
    pub fn observe(&mut self, probe: &Probe, s: &Settings) -> bool {
        if self.state == State::Draining {
            return false;
        }
        let before = self.state;
        let ok = matches!(probe, Probe::Status(c) if s.matcher.accepts(*c));
        if ok {
            self.successes += 1;
            self.failures = 0;
            if self.state != State::Healthy && self.successes >= s.healthy_threshold {
                self.state = State::Healthy;
                self.reason = None;
                self.description = None;
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            if self.state != State::Unhealthy && self.failures >= s.unhealthy_threshold {
                self.state = State::Unhealthy;
            }
            if self.state == State::Unhealthy {
                // AWS's reason codes for an unhealthy target (DescribeTargetHealth).
                let (reason, description) = match probe {
                    Probe::Status(c) => (
                        "Target.ResponseCodeMismatch",
                        format!("Health checks failed with these codes: [{c}]"),
                    ),
                    Probe::Timeout => ("Target.Timeout", "Request timed out".to_owned()),
                    Probe::Failed => ("Target.FailedHealthChecks", "Health checks failed".into()),
                };
                self.reason = Some(reason);
                self.description = Some(description);
            }
        }
        self.state != before
    }

    pub fn drain(&mut self) {
        self.state = State::Draining;
        self.reason = Some("Target.DeregistrationInProgress");
        self.description = Some("Target deregistration is in progress".into());
    }
}

/// One line of the health file.
#[derive(Debug, Serialize, PartialEq)]
pub struct Entry {
    pub target_group_arn: String,
    pub id: String,
    pub port: u16,
    pub state: State,
    pub reason: Option<&'static str>,
    pub description: Option<String>,
}

pub fn entry(tg: &str, addr: SocketAddr, t: &Tracker) -> Entry {
    Entry {
        target_group_arn: tg.to_owned(),
        id: addr.ip().to_string(),
        port: addr.port(),
        state: t.state,
        reason: t.reason,
        description: t.description.clone(),
    }
}

/// Writes `{"targets": [...]}` to `path` whole: a temporary file renamed over it, so a reader
/// never sees half a file.
pub fn write(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "targets": entries }))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Targets that may carry requests, as ALB chooses them: the healthy ones; when a group has
/// none, ALB fails open and routes to all its registered targets that are not draining
/// (docs/dataplane.md quotes the rule).
pub fn routable<'a>(
    targets: &'a BTreeMap<SocketAddr, State>,
) -> impl Iterator<Item = SocketAddr> + 'a {
    let any_healthy = targets.values().any(|s| *s == State::Healthy);
    targets.iter().filter_map(move |(addr, s)| {
        let ok = if any_healthy {
            *s == State::Healthy
        } else {
            *s != State::Draining
        };
        ok.then_some(*addr)
    })
}

/// Every target the data plane has registered (or is draining), per target group, with its
/// tracker and when it is next checked; and each group's settings once read.
#[derive(Default)]
pub struct Book {
    pub targets: BTreeMap<(String, SocketAddr), Checked>,
    pub settings: std::collections::HashMap<String, Settings>,
    /// Something changed since the file was last written.
    pub dirty: bool,
}

pub struct Checked {
    pub tracker: Tracker,
    pub next_check: std::time::Instant,
    pub in_flight: bool,
}

impl Book {
    /// Makes the book hold exactly `live` (registered: checked) and `draining` targets; new
    /// ones start `initial` and are checked at once.
    pub fn sync(
        &mut self,
        live: &[(String, SocketAddr)],
        draining: &[(String, SocketAddr)],
        now: std::time::Instant,
    ) {
        let before = self.targets.len();
        self.targets
            .retain(|k, _| live.contains(k) || draining.contains(k));
        self.dirty |= self.targets.len() != before;
        for k in live {
            if !self.targets.contains_key(k) {
                self.targets.insert(
                    k.clone(),
                    Checked {
                        tracker: Tracker::default(),
                        next_check: now,
                        in_flight: false,
                    },
                );
                self.dirty = true;
            }
        }
        for k in draining {
            if let Some(c) = self.targets.get_mut(k) {
                if c.tracker.state != State::Draining {
                    c.tracker.drain();
                    self.dirty = true;
                }
            }
        }
    }

    pub fn state(&self, tg: &str, addr: SocketAddr) -> Option<State> {
        self.targets
            .get(&(tg.to_owned(), addr))
            .map(|c| c.tracker.state)
    }

    /// (healthy, unhealthy) targets of a group: HealthyHostCount / UnHealthyHostCount.
    pub fn counts(&self, tg: &str) -> (usize, usize) {
        let mut out = (0, 0);
        for ((g, _), c) in &self.targets {
            if g == tg {
                match c.tracker.state {
                    State::Healthy => out.0 += 1,
                    State::Unhealthy => out.1 += 1,
                    _ => {}
                }
            }
        }
        out
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.targets
            .iter()
            .map(|((tg, addr), c)| entry(tg, *addr, &c.tracker))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(healthy: u32, unhealthy: u32) -> Settings {
        Settings {
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            matcher: Matcher::parse("200-399"),
            ..Settings::default()
        }
    }

    #[test]
    fn matcher_reads_alb_forms() {
        let m = Matcher::parse("200,202-204");
        assert!(m.accepts(200) && m.accepts(203) && !m.accepts(201) && !m.accepts(500));
        assert!(Matcher::parse("200-399").accepts(302));
        assert!(!Matcher::parse("200").accepts(204));
    }

    #[test]
    fn a_new_target_is_initial_until_the_healthy_threshold() {
        let s = settings(3, 2);
        let mut t = Tracker::default();
        assert_eq!(t.reason, Some("Elb.RegistrationInProgress"));
        assert!(!t.observe(&Probe::Status(200), &s));
        assert!(!t.observe(&Probe::Status(200), &s));
        assert_eq!(t.state, State::Initial);
        assert!(t.observe(&Probe::Status(200), &s));
        assert_eq!((t.state, t.reason), (State::Healthy, None));
    }

    #[test]
    fn consecutive_failures_make_it_unhealthy_with_aws_reason_codes() {
        let s = settings(2, 2);
        let mut t = Tracker::default();
        t.observe(&Probe::Status(200), &s);
        t.observe(&Probe::Status(200), &s);
        assert_eq!(t.state, State::Healthy);
        // One failure between successes resets the run: still healthy.
        t.observe(&Probe::Status(500), &s);
        t.observe(&Probe::Status(200), &s);
        t.observe(&Probe::Status(500), &s);
        assert_eq!(t.state, State::Healthy);
        assert!(t.observe(&Probe::Status(500), &s));
        assert_eq!(t.state, State::Unhealthy);
        assert_eq!(t.reason, Some("Target.ResponseCodeMismatch"));
        assert_eq!(
            t.description.as_deref(),
            Some("Health checks failed with these codes: [500]")
        );
        t.observe(&Probe::Timeout, &s);
        assert_eq!(t.reason, Some("Target.Timeout"));
        t.observe(&Probe::Failed, &s);
        assert_eq!(t.reason, Some("Target.FailedHealthChecks"));
        // Back to healthy after the healthy threshold.
        t.observe(&Probe::Status(200), &s);
        assert_eq!(t.state, State::Unhealthy);
        t.observe(&Probe::Status(200), &s);
        assert_eq!(t.state, State::Healthy);
    }

    #[test]
    fn a_failing_new_target_goes_from_initial_to_unhealthy() {
        let s = settings(5, 2);
        let mut t = Tracker::default();
        t.observe(&Probe::Status(500), &s);
        assert_eq!(t.state, State::Initial);
        t.observe(&Probe::Status(500), &s);
        assert_eq!(t.state, State::Unhealthy);
    }

    #[test]
    fn draining_is_final() {
        let s = settings(1, 1);
        let mut t = Tracker::default();
        t.drain();
        assert!(!t.observe(&Probe::Status(200), &s));
        assert_eq!(
            (t.state, t.reason),
            (State::Draining, Some("Target.DeregistrationInProgress"))
        );
    }

    #[test]
    fn routing_uses_healthy_targets_and_fails_open_when_there_are_none() {
        let a: SocketAddr = "127.77.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.77.0.2:1".parse().unwrap();
        let c: SocketAddr = "127.77.0.3:1".parse().unwrap();
        let mut m = BTreeMap::from([
            (a, State::Healthy),
            (b, State::Unhealthy),
            (c, State::Initial),
        ]);
        assert_eq!(routable(&m).collect::<Vec<_>>(), vec![a]);
        m.insert(a, State::Draining);
        assert_eq!(routable(&m).collect::<Vec<_>>(), vec![b, c]);
    }

    #[test]
    fn the_book_follows_registrations_and_counts_hosts() {
        let now = std::time::Instant::now();
        let a: SocketAddr = "127.77.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.77.0.2:1".parse().unwrap();
        let s = settings(1, 1);
        let mut book = Book::default();
        book.sync(&[("tg".into(), a), ("tg".into(), b)], &[], now);
        assert!(book.dirty);
        assert_eq!(book.state("tg", a), Some(State::Initial));
        book.targets
            .get_mut(&("tg".to_owned(), a))
            .unwrap()
            .tracker
            .observe(&Probe::Status(200), &s);
        book.targets
            .get_mut(&("tg".to_owned(), b))
            .unwrap()
            .tracker
            .observe(&Probe::Timeout, &s);
        assert_eq!(book.counts("tg"), (1, 1));
        // b stops: draining while it finishes, then gone.
        book.dirty = false;
        book.sync(&[("tg".into(), a)], &[("tg".into(), b)], now);
        assert_eq!(book.state("tg", b), Some(State::Draining));
        assert!(book.dirty);
        book.sync(&[("tg".into(), a)], &[], now);
        assert_eq!(book.state("tg", b), None);
        assert_eq!(book.entries().len(), 1);
    }

    #[test]
    fn the_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target-health.json");
        let mut t = Tracker::default();
        let e = entry("arn:tg", "127.77.0.1:8080".parse().unwrap(), &t);
        write(&path, &[e]).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["targets"][0]["state"], "initial");
        assert_eq!(v["targets"][0]["port"], 8080);
        t.drain();
        write(
            &path,
            &[entry("arn:tg", "127.77.0.1:8080".parse().unwrap(), &t)],
        )
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["targets"][0]["reason"], "Target.DeregistrationInProgress");
        assert!(!dir.path().join("target-health.json.tmp").exists());
    }
}
