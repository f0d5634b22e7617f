//! What a health signal read, and what that means. Adapters turn AWS and HTTP answers into
//! [`Reading`]s; the state machine turns readings into [`Verdict`]s with the signal's no-data
//! policy. "No data" is always explicit: a signal never passes by saying nothing.

use crate::config::NoData;
use serde::Serialize;
use std::fmt;

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
}
