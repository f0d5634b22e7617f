//! The ports: the narrow, SDK-free view of AWS that the core works with. The adapters in
//! `crate::aws` implement them with the SDK; tests substitute fakes.

use super::image::{ImageRef, Resolved};
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

    /// The actions of several routes, in the order of `arns`, in one round: every listener's
    /// in one DescribeListeners call and every rule's in one DescribeRules call. Fails as a
    /// whole when any route cannot be read.
    fn read_actions(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<ListenerAction>, AwsError>> + Send;

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

/// An AWS call that failed: which operation, on which resource, and one line saying why (the AWS
/// error code and message, or the transport failure). The SDK's full error, with the raw
/// response, is logged at debug level (`-vv`) only: it runs to kilobytes.
#[derive(Debug, thiserror::Error)]
#[error("AWS {operation} on {resource} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: String,
    pub message: String,
}

impl AwsError {
    pub fn new(
        operation: &'static str,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            operation,
            resource: resource.into(),
            message: message.into(),
        }
    }
}

/// An alarm's current state, as CloudWatch reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA` (a newer value is passed through as sent).
    pub state: String,
    /// CloudWatch's explanation of the last state change.
    pub reason: Option<String>,
}

/// CloudWatch alarms, metric and composite alike.
pub trait Alarms {
    /// The state of every named alarm that exists. A name with no alarm is simply absent from
    /// the result: whether that fails, passes or waits is the caller's decision ("no data").
    /// An empty `names` asks nothing and returns nothing.
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<AlarmState>, AwsError>> + Send;
}

/// The ports the deploy driver acts through, as one value: the ALB, ECS and CloudWatch. The
/// application layer's `Aws` bundles the SDK adapters; tests pass a scripted fake. The driver,
/// the route changes, the restore and the signal reader are generic over it.
pub trait Ports: Send + Sync {
    type Traffic: Traffic + Send + Sync;
    type Services: Services + Send + Sync;
    type Alarms: Alarms + Send + Sync;

    fn traffic(&self) -> &Self::Traffic;
    fn services(&self) -> &Self::Services;
    fn alarms(&self) -> &Self::Alarms;
}

/// Why an image could not be resolved. A lookup that got an answer has a message
/// ([`ImageLookupError::message`]) and a fix ([`ImageLookupError::fix`]) and displays as
/// `MESSAGE\n  fix: FIX`; an AWS error displays as itself.
#[derive(Debug)]
pub enum ImageLookupError {
    /// The repository, tag or digest does not exist (ECR said so).
    NotFound {
        image: String,
        reason: String,
        fix: String,
    },
    /// The reference names a tag and a digest, and the tag now points to another image.
    TagMoved {
        image: String,
        tag: String,
        requested: String,
        current: String,
        fix: String,
    },
    /// Anything else: access denied, throttling, the network. Never a "not found".
    Aws(AwsError),
}

impl ImageLookupError {
    /// What went wrong (for an AWS error, the error itself).
    pub fn message(&self) -> String {
        match self {
            ImageLookupError::NotFound { image, reason, .. } => {
                format!("image `{image}` not found: {reason}")
            }
            ImageLookupError::TagMoved {
                image,
                tag,
                requested,
                current,
                ..
            } => format!(
                "image `{image}`: tag `{tag}` now points to {current}, not to the digest given ({requested})"
            ),
            ImageLookupError::Aws(e) => e.to_string(),
        }
    }

    /// What to do next; an AWS error carries its own.
    pub fn fix(&self) -> Option<&str> {
        match self {
            ImageLookupError::NotFound { fix, .. } | ImageLookupError::TagMoved { fix, .. } => {
                Some(fix)
            }
            ImageLookupError::Aws(_) => None,
        }
    }
}

impl std::fmt::Display for ImageLookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fix() {
            Some(fix) => write!(f, "{}\n  fix: {fix}", self.message()),
            None => f.write_str(&self.message()),
        }
    }
}

impl std::error::Error for ImageLookupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent, as the AWS error itself would be.
            ImageLookupError::Aws(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

impl From<AwsError> for ImageLookupError {
    fn from(e: AwsError) -> Self {
        ImageLookupError::Aws(e)
    }
}

/// Image resolution, as the core needs it; [`SdkImages`] is the ECR implementation.
pub trait Images {
    /// See [`SdkImages::resolve`].
    fn resolve(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Resolved, ImageLookupError>> + Send;

    /// See [`SdkImages::digest_exists`].
    fn digest_exists(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<bool, ImageLookupError>> + Send;
}
