//! What a health signal read, and what that means. Adapters turn AWS and HTTP answers into
//! [`Reading`]s; the state machine turns readings into [`Verdict`]s with the signal's no-data
//! policy. "No data" is always explicit: a signal never passes by saying nothing.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// What a signal that returns no data counts as. Never a silent pass: `Pass` must be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoData {
    /// No data is a failure (during a bake: roll back).
    Fail,
    /// No data counts as healthy.
    Pass,
    /// Keep waiting; if the signal still has no data when `health.timeout` has passed since it
    /// lost its data, it fails.
    Wait,
}

/// What one signal saw on one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The signal has data and it is good.
    Ok,
    /// The signal has data and it is bad (or not good yet).
    Failing,
    /// The signal returned nothing to judge: missing alarm, no targets, no HTTP response, an
    /// AWS read that failed after the SDK's retries.
    NoData,
}

/// One signal's reading, with the policy that decides what "no data" means for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// Stable name: `ecs-service`, `target-health`, `alarm:NAME`, `http:NAME`.
    pub signal: String,
    pub status: Status,
    /// The value seen, in words ("1/2 targets healthy; 10.0.1.7 is unhealthy (…)").
    pub observed: String,
    pub no_data: NoData,
}

impl Reading {
    pub fn new(signal: impl Into<String>, status: Status, observed: impl Into<String>) -> Self {
        Reading {
            signal: signal.into(),
            status,
            observed: observed.into(),
            no_data: NoData::Wait,
        }
    }

    pub fn with_no_data(mut self, policy: NoData) -> Self {
        self.no_data = policy;
        self
    }

    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Failing => "failing",
            Status::NoData => "no data",
        };
        write!(f, "{}: {status} ({})", self.signal, self.observed)
    }
}

/// What a reading means for the deployment right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Not good yet, not bad enough to act on: keep waiting (bounded by the health timeout).
    Pending,
    Fail,
}

/// While traffic is on the new color every bad reading counts; before the first weight change
/// the new color is still settling, so a bad reading only means "not yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Settling,
    Watching,
}

/// The verdict for one reading, before the "pending too long" rule the machine applies.
pub fn verdict(reading: &Reading, stage: Stage) -> Verdict {
    match (reading.status, stage) {
        (Status::Ok, _) => Verdict::Pass,
        (Status::Failing, Stage::Settling) => Verdict::Pending,
        (Status::Failing, Stage::Watching) => Verdict::Fail,
        (Status::NoData, stage) => match (reading.no_data, stage) {
            (NoData::Pass, _) => Verdict::Pass,
            (NoData::Wait, _) | (NoData::Fail, Stage::Settling) => Verdict::Pending,
            (NoData::Fail, Stage::Watching) => Verdict::Fail,
        },
    }
}

/// Whether a color may take production traffic, judged from one poll's readings with the
/// verdict rules above and the machine's "pending too long" rule: once `waited` reaches
/// `timeout`, a signal still pending counts as failing. `rollback` judges its target with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every signal passes.
    Ready,
    /// None fails, these are not good yet: poll again.
    Pending(Vec<Reading>),
    /// These fail (or stayed pending until the timeout): the color must not take traffic.
    Failing(Vec<Reading>),
}

/// See [`Readiness`].
pub fn readiness(
    readings: &[Reading],
    stage: Stage,
    waited: Duration,
    timeout: Duration,
) -> Readiness {
    let with = |v: Verdict| -> Vec<Reading> {
        readings
            .iter()
            .filter(|r| verdict(r, stage) == v)
            .cloned()
            .collect()
    };
    let failing = with(Verdict::Fail);
    if !failing.is_empty() {
        return Readiness::Failing(failing);
    }
    let pending = with(Verdict::Pending);
    if pending.is_empty() {
        Readiness::Ready
    } else if waited >= timeout {
        let late = pending
            .into_iter()
            .map(|mut r| {
                r.observed = format!(
                    "{} (still not healthy after {})",
                    r.observed,
                    humantime::format_duration(timeout)
                );
                r
            })
            .collect();
        Readiness::Failing(late)
    } else {
        Readiness::Pending(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_table() {
        use NoData::{Fail, Pass, Wait};
        use Stage::{Settling, Watching};
        let (ok, failing, none) = (Status::Ok, Status::Failing, Status::NoData);
        let table = [
            (ok, Fail, Watching, Verdict::Pass),
            (ok, Fail, Settling, Verdict::Pass),
            (failing, Pass, Watching, Verdict::Fail),
            (failing, Pass, Settling, Verdict::Pending),
            (none, Fail, Watching, Verdict::Fail),
            (none, Fail, Settling, Verdict::Pending),
            (none, Pass, Watching, Verdict::Pass),
            (none, Pass, Settling, Verdict::Pass),
            (none, Wait, Watching, Verdict::Pending),
            (none, Wait, Settling, Verdict::Pending),
        ];
        for (status, policy, stage, want) in table {
            let r = Reading::new("x", status, "seen").with_no_data(policy);
            assert_eq!(verdict(&r, stage), want, "{status:?} {policy:?} {stage:?}");
        }
    }

    #[test]
    fn readiness_table() {
        use NoData::{Fail, Pass, Wait};
        use Stage::{Settling, Watching};
        const OK: Status = Status::Ok;
        const BAD: Status = Status::Failing;
        const NONE: Status = Status::NoData;
        let t = Duration::from_secs(20);
        let (early, late) = (Duration::from_secs(1), Duration::from_secs(20));
        // (readings (status, no-data policy), stage, waited) → (kind, signals named)
        type Row = (
            &'static [(Status, NoData)],
            Stage,
            Duration,
            &'static str,
            &'static [usize],
        );
        let table: [Row; 11] = [
            (&[(OK, Fail), (OK, Wait)], Watching, early, "ready", &[]),
            (&[], Watching, late, "ready", &[]),
            // A warm color: an alarm in ALARM fails at once, and every failing signal is named.
            (
                &[(OK, Wait), (BAD, Wait), (BAD, Pass)],
                Watching,
                early,
                "failing",
                &[1, 2],
            ),
            // …even while another one is only pending.
            (
                &[(NONE, Wait), (BAD, Wait)],
                Watching,
                early,
                "failing",
                &[1],
            ),
            (&[(NONE, Fail)], Watching, early, "failing", &[0]),
            (&[(NONE, Pass), (OK, Wait)], Watching, late, "ready", &[]),
            // No data with `wait`: poll again, until the timeout.
            (
                &[(OK, Wait), (NONE, Wait)],
                Watching,
                early,
                "pending",
                &[1],
            ),
            (&[(OK, Wait), (NONE, Wait)], Watching, late, "failing", &[1]),
            // A color coming up (scaled up from 0): not good yet only means "not yet".
            (
                &[(BAD, Wait), (NONE, Fail)],
                Settling,
                early,
                "pending",
                &[0, 1],
            ),
            (&[(BAD, Wait), (OK, Fail)], Settling, late, "failing", &[0]),
            (&[(OK, Wait), (OK, Fail)], Settling, late, "ready", &[]),
        ];
        for (i, (seen, stage, waited, kind, named)) in table.into_iter().enumerate() {
            let readings: Vec<Reading> = seen
                .iter()
                .enumerate()
                .map(|(n, (st, p))| Reading::new(format!("s{n}"), *st, "seen").with_no_data(*p))
                .collect();
            let want: Vec<String> = named.iter().map(|n| format!("s{n}")).collect();
            let got = readiness(&readings, stage, waited, t);
            let (got_kind, got_named) = match &got {
                Readiness::Ready => ("ready", Vec::new()),
                Readiness::Pending(r) => ("pending", r.iter().map(|r| r.signal.clone()).collect()),
                Readiness::Failing(r) => ("failing", r.iter().map(|r| r.signal.clone()).collect()),
            };
            assert_eq!((got_kind, got_named), (kind, want), "row {i}: {got:?}");
        }
    }

    #[test]
    fn a_signal_pending_past_the_timeout_says_so() {
        let r = Reading::new("target-health", Status::NoData, "no target is registered");
        let t = Duration::from_secs(20);
        let Readiness::Failing(f) = readiness(&[r], Stage::Watching, t, t) else {
            panic!("pending past the timeout must fail");
        };
        assert_eq!(
            f[0].observed,
            "no target is registered (still not healthy after 20s)"
        );
    }
}
