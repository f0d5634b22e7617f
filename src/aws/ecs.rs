use super::{AwsError, ServiceDeployment, ServiceState, Services};
use aws_sdk_ecs as ecs;

#[derive(Clone)]
pub struct SdkServices {
    client: ecs::Client,
}

impl SdkServices {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SdkServices {
            client: ecs::Client::new(config),
        }
    }
}

impl Services for SdkServices {
    async fn describe(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceState>, AwsError> {
        let resource = format!("{cluster}/{service}");
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeServices", &resource, e))?;
        let Some(s) = out.services().iter().find(|s| s.status() == Some("ACTIVE")) else {
            return Ok(None);
        };
        Ok(Some(ServiceState {
            name: s.service_name().unwrap_or(service).to_string(),
            status: s.status().unwrap_or_default().to_string(),
            task_definition: s.task_definition().unwrap_or_default().to_string(),
            desired: s.desired_count(),
            running: s.running_count(),
            pending: s.pending_count(),
            deployments: s
                .deployments()
                .iter()
                .map(|d| ServiceDeployment {
                    status: d.status().unwrap_or_default().to_string(),
                    task_definition: d.task_definition().unwrap_or_default().to_string(),
                    desired: d.desired_count(),
                    running: d.running_count(),
                    failed_tasks: d.failed_tasks(),
                    rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                })
                .collect(),
            target_groups: s
                .load_balancers()
                .iter()
                .filter_map(|lb| lb.target_group_arn().map(str::to_string))
                .collect(),
        }))
    }

    async fn set_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> Result<(), AwsError> {
        self.client
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(desired)
            .send()
            .await
            .map_err(|e| AwsError::sdk("UpdateService", format!("{cluster}/{service}"), e))?;
        Ok(())
    }

    async fn task_definition_images(&self, task_definition: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .client
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeTaskDefinition", task_definition, e))?;
        Ok(out
            .task_definition()
            .map(|td| {
                td.container_definitions()
                    .iter()
                    .filter_map(|c| c.image().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}
