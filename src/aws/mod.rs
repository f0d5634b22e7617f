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
mod model;
mod sts;

pub use autoscaling::{ScalableTarget, SdkAutoscaling};
pub use cloudwatch::{AlarmState, Alarms, SdkAlarms};
pub use ecr::{classify, ImageLookupError, Images, Registry, Resolved, SdkImages};
pub use ecs::SdkServices;
pub use elbv2::SdkTraffic;
pub use error::{sdk_summary, AwsError};
pub use model::{ListenerAction, ServiceDeployment, ServiceState, Services, TargetHealth, Traffic};
pub use sts::SdkIdentity;

/// Loads the shared SDK configuration for `region` (credentials and endpoint from the usual
/// environment/profile chain).
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await
}
