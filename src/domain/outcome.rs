//! How a deployment ends ([`Outcome`]) and why one is rolled back ([`Failure`]): what the
//! machine concludes, what the driver reports and the journal records.

use super::color::Weights;
use super::spec::Until;
use serde::Serialize;

/// Why a deployment is being rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The failing signal (`ecs-service`, `alarm:NAME`, …), or `traffic` / `operator`.
    pub signal: String,
    /// What it saw.
    pub observed: String,
    /// Where the deployment was ("step 2 (50%)", "post-promotion bake", …).
    pub during: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed during {}: {}",
            self.signal, self.during, self.observed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// 100 % on the new color, verified, and every bake passed.
    Promoted {
        scaled_down: bool,
        /// Set when scaling the old color down failed (traffic is fine; the old color is still
        /// running and costs money).
        scale_down_error: Option<String>,
    },
    /// Traffic is back where it was before the deploy, verified.
    RolledBack { failure: Failure },
    /// The restore could not be verified: traffic may be on a bad stack.
    RollbackFailed { failure: Failure, error: String },
    /// Someone else changed the listener while the deploy ran; the machine stopped acting.
    Abandoned { observed: Weights },
    /// Not an end: production traffic waits for `bluegreen approve` and this process stopped
    /// waiting. The deployment stays unfinished; `resume` continues it once approved.
    AwaitingApproval,
    /// Not an end: `--until` stopped here; `resume` continues.
    Stopped { at: Until },
}
