//! The narrow, SDK-free view of AWS that the deploy core works with.

use super::AwsError;
use std::future::Future;

/// The action of a route — a listener's default action, or a listener rule's action —
/// reduced to what traffic shifting cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerAction {
    /// `forward`, with each target group's weight (a plain single-target forward has weight 1).
    Forward {
        targets: Vec<(String, u16)>,
        /// Stickiness settings are carried over unchanged when bluegreen rewrites the weights.
        stickiness: Option<(bool, Option<i32>)>,
    },
    /// A `fixed-response` (the modules install a 503 until the first deploy).
    FixedResponse { status: String },
    /// Anything else (redirect, authenticate-*): bluegreen refuses to touch it.
    Other { kind: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    pub id: String,
    pub port: Option<i32>,
    pub state: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDeployment {
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub failed_tasks: i32,
    pub rollout_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub name: String,
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<ServiceDeployment>,
    pub target_groups: Vec<String>,
}

/// ALB route weights and target health.
///
/// A *route* is a listener or a listener rule, named by its ARN: `…:listener/…` or
/// `…:listener-rule/…`. For a listener the methods read and replace its default action; for a
/// rule, its action (its conditions and priority are left alone).
pub trait Traffic {
    /// The route's action: the listener's default action or the rule's action (a route with
    /// several chained actions reads as [`ListenerAction::Other`]).
    fn read_default_action(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<ListenerAction, AwsError>> + Send;

    /// Replace the listener's default action or the rule's action with a weighted forward.
    /// `stickiness` is kept as read.
    fn set_forward(
        &self,
        arn: &str,
        targets: &[(String, u16)],
        stickiness: Option<(bool, Option<i32>)>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Replace the listener's default action or the rule's action with a fixed response (the
    /// state before the first deploy).
    fn set_fixed_response(
        &self,
        arn: &str,
        status: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn target_health(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Result<Vec<TargetHealth>, AwsError>> + Send;
}

/// ECS services.
pub trait Services {
    /// `None` when the service does not exist (or is INACTIVE/DRAINING).
    fn describe(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<Option<ServiceState>, AwsError>> + Send;

    fn set_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Container images of a task definition revision.
    fn task_definition_images(
        &self,
        task_definition: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}
