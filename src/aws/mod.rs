//! AWS adapters. The core owns narrow traits ([`Traffic`], [`Services`], [`Alarms`]); the
//! SDK-backed implementations live here, and tests substitute fakes. The endpoint comes from the
//! SDK's own configuration chain (`AWS_ENDPOINT_URL` for the local emulator); no code path
//! special-cases it.

mod autoscaling;
mod cloudwatch;
mod ecr;
mod ecs;
mod elbv2;
mod error;
mod sts;

pub use crate::domain::image::{classify, Registry, Resolved};
pub use crate::domain::ports::{
    AlarmState, Alarms, ImageLookupError, Images, ListenerAction, ServiceDeployment, ServiceState,
    Services, TargetHealth, Traffic,
};
pub use autoscaling::{ScalableTarget, SdkAutoscaling};
pub use cloudwatch::SdkAlarms;
pub use ecr::SdkImages;
pub use ecs::SdkServices;
pub use elbv2::SdkTraffic;
pub use error::{sdk_summary, AwsError};
pub use sts::SdkIdentity;

/// Every AWS call is bounded: a connection within [`CONNECT_TIMEOUT`], each attempt within
/// [`ATTEMPT_TIMEOUT`], the whole operation (the SDK's standard retries included) within
/// [`OPERATION_TIMEOUT`]. A call that is accepted but never answered fails in bounded time
/// instead of holding the environment (and its lock) forever.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The timeouts of every SDK client bluegreen builds.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Loads the shared SDK configuration for `region` (credentials and endpoint from the usual
/// environment/profile chain), with bounded timeouts ([`timeouts`]).
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .timeout_config(timeouts())
        .load()
        .await
}
