//! Application Auto Scaling: whether an ECS service's desired count is managed by a scalable
//! target, so `drift` can tell autoscaling's changes from a person's.

use aas::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_applicationautoscaling as aas;

use super::AwsError;

/// A service's scalable target: the bounds autoscaling keeps its desired count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalableTarget {
    pub min: i32,
    pub max: i32,
}

#[derive(Clone)]
pub struct SdkAutoscaling {
    client: aas::Client,
}

impl SdkAutoscaling {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SdkAutoscaling {
            client: aas::Client::new(config),
        }
    }

    /// The scalable target registered for `service` in `cluster`, if any.
    pub async fn ecs_service_target(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ScalableTarget>, AwsError> {
        let resource = resource_id(cluster, service);
        let out = self
            .client
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_ids(&resource)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeScalableTargets", &resource, e))?;
        Ok(out
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == resource)
            .map(|t| ScalableTarget {
                min: t.min_capacity(),
                max: t.max_capacity(),
            }))
    }
}

/// Application Auto Scaling's id of an ECS service.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_resource_id_is_service_cluster_name() {
        assert_eq!(super::resource_id("bg", "app-blue"), "service/bg/app-blue");
    }
}
