//! The plan artifact's body (format v1, docs/plan-then-deploy.md): what `plan` seals and `apply` checks against the world.

use crate::aws::Resolved;
use crate::domain::color::{Color, Weights};
use crate::iac::{Finding, StateMeta};
use crate::state::journal::StepRecord;
use serde::{Deserialize, Serialize};

/// The artifact's body (format version 1; docs/plan-then-deploy.md documents every field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// The environment's name, and the `--env` argument the plan was made with.
    pub env: String,
    pub env_arg: String,
    /// sha256 of `bluegreen.hcl` when planned: signals, gates and timeouts come from it.
    pub env_file_sha256: String,
    pub created_at: String,
    pub created_by: String,
    pub bluegreen_version: String,
    pub image: Resolved,
    pub live_color: Option<Color>,
    pub idle_color: Color,
    /// Every production route (listener or rule) and its weights when planned.
    pub routes: Vec<RouteWeights>,
    /// The Terraform states the plan was made against (`None`: no state yet).
    pub states: States,
    /// The journal's newest deployment when planned: any later one makes the plan stale.
    pub last_deployment: Option<String>,
    pub strategy: String,
    pub schedule: Vec<StepRecord>,
    pub schedule_text: String,
    pub health_timeout_ms: u64,
    pub poll_interval_ms: u64,
    pub post_bake_ms: u64,
    pub termination_wait_ms: u64,
    pub scale_down: bool,
    pub desired: u32,
    /// Every health signal that gates the deployment.
    pub signals: Vec<String>,
    pub approval_required: bool,
    pub approval_wait_ms: u64,
    pub worst_case_ms: u64,
    pub worst_case: String,
    pub terraform: TerraformPart,
    pub safety: SafetyPart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWeights {
    pub route: String,
    pub weights: Weights,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct States {
    pub shared: Option<StateMeta>,
    pub live: Option<StateMeta>,
    pub idle: Option<StateMeta>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformPart {
    pub tool: String,
    pub version: String,
    pub has_changes: bool,
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    /// Every resource change that is not a no-op: address, action, reason.
    pub changes: Vec<ChangeLine>,
    /// `show -json` of the saved plan with every sensitive value redacted.
    pub redacted_plan: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLine {
    pub address: String,
    pub action: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyPart {
    pub protected: Vec<String>,
    pub findings: Vec<Finding>,
    /// `--allow-unsafe-plan` was given: the findings above were let through on purpose.
    pub allowed: bool,
}
