//! The one description of a deployment: what `plan` seals into an artifact, what the journal's
//! `started` record holds, what the deploy state machine carries out and what the result line
//! reports. `crate::flow::spec::deployment_spec` builds it for every command that starts or
//! continues a deployment; the records embed it (their on-disk fields are unchanged).

use super::color::Color;
use super::strategy::{Schedule, Step};
use serde::Serialize;
use std::time::Duration;

/// Everything that decides how one deployment runs, in one place.
///
/// Which command sets which field from where (the rule `crate::flow::spec::deployment_spec`
/// keeps, documented in docs/strategies.md, "Where a deployment's settings come from"):
///
/// - `deploy`, `plan`: the schedule of `--strategy` or else the file's strategy; timeouts,
///   promotion, desired count, signals and the approval gate from the environment file;
///   `scale_down` only when the file says `scale-down` *and* the live color has a stack to
///   scale (never on a first deploy). A first deploy's schedule is all-at-once.
/// - `apply`: everything from the artifact, exactly as reviewed (the environment file is
///   unchanged: `apply` refuses the artifact otherwise); only `until` from the flag.
/// - `resume`: everything from the journal's `started` record; the approval gate only while
///   no approval is journaled; what the journal does not keep (`approval.wait`,
///   `poll_interval`, `signals`) from today's file; `until` from the flag.
/// - `rebuild`: the file's strategy (rebuild has no `--strategy`); the approval gate only with
///   `--swap` (a rebuild without it never moves production traffic); no `until`.
///
/// What a record does not keep reads back as unset: the journal keeps neither
/// `approval.wait`, `poll_interval`, `signals` nor `until`; the artifact keeps no `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSpec {
    /// The image deployed: pinned to its digest when it was resolved from an ECR tag.
    pub image: String,
    /// The `--image` given, when it was resolved to a different `image` (an ECR tag).
    pub image_requested: Option<String>,
    /// The color production traffic is on now; `None` on a first deploy (nothing to roll back
    /// to but the listener's fixed response, and nothing to scale down).
    pub old: Option<Color>,
    pub new: Color,
    /// The strategy's name (`canary`, …) and the schedule it expanded to.
    pub strategy: String,
    pub schedule: Schedule,
    /// The longest a signal may stay pending (not yet healthy, or no data with the `wait`
    /// policy) before it counts as failed.
    pub health_timeout: Duration,
    /// How often every signal is read.
    pub poll_interval: Duration,
    /// Watch every signal this long at 100 % before the deploy counts as promoted.
    pub post_bake: Duration,
    /// After promotion, how long the old color stays at full size.
    pub termination_wait: Duration,
    /// Scale the old color to zero after the termination wait (else keep it warm).
    pub scale_down: bool,
    /// The new color's service size.
    pub desired: u32,
    pub approval: Gate,
    /// Every health signal that gates the deployment, by name (`ecs-service`, `alarm:NAME`, …).
    pub signals: Vec<String>,
    /// Stop at this checkpoint, unfinished, for a later `resume` (`--until`).
    pub until: Option<Until>,
}

/// The approval gate: production traffic waits for `bluegreen approve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gate {
    /// Production traffic waits for an approval (not yet given).
    pub required: bool,
    /// How long to wait for it in this process before exiting with AWAITING_APPROVAL.
    pub wait: Duration,
}

impl Gate {
    /// A gate that waits at most `wait`.
    pub fn required(wait: Duration) -> Gate {
        Gate {
            required: true,
            wait,
        }
    }

    /// How long to wait at the gate, if it is closed.
    pub fn pending(self) -> Option<Duration> {
        self.required.then_some(self.wait)
    }
}

/// A checkpoint `deploy --until` / `resume --until` stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Until {
    /// The new color passed every signal with test traffic only; no production traffic yet.
    TestTraffic,
    /// The schedule's step with this new-color weight was verified and its bake passed.
    Weight(u16),
}

impl Until {
    /// `test-traffic` or `weight:N` (`N%` is accepted too).
    pub fn parse(s: &str) -> Result<Until, String> {
        let s = s.trim();
        if s == "test-traffic" {
            return Ok(Until::TestTraffic);
        }
        let n = s
            .strip_prefix("weight:")
            .or_else(|| s.strip_suffix('%'))
            .ok_or_else(|| {
                format!("`{s}` is not a checkpoint; use `test-traffic` or `weight:N`")
            })?;
        match n.parse::<u16>() {
            Ok(p) if (1..=100).contains(&p) => Ok(Until::Weight(p)),
            _ => Err(format!(
                "`{s}`: the weight must be a whole percentage from 1 to 100, e.g. `weight:25`"
            )),
        }
    }

    /// Whether `schedule` ever reaches this checkpoint (a weight must be one of its steps).
    pub fn check(self, schedule: &Schedule) -> Result<(), String> {
        match self {
            Until::TestTraffic => Ok(()),
            Until::Weight(p) => {
                let weights: Vec<u16> = schedule
                    .steps()
                    .iter()
                    .filter_map(|s| match s {
                        Step::Weight { percent, .. } => Some(*percent),
                        Step::Pause => None,
                    })
                    .collect();
                if weights.contains(&p) {
                    Ok(())
                } else {
                    Err(format!(
                        "the schedule ({schedule}) never stops at {p}%; its weights are {}",
                        weights
                            .iter()
                            .map(|w| format!("{w}%"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
    }
}

impl std::fmt::Display for Until {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Until::TestTraffic => f.write_str("test-traffic"),
            Until::Weight(p) => write!(f, "weight:{p}"),
        }
    }
}
