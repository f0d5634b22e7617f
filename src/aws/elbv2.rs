use super::{AwsError, ListenerAction, TargetHealth, Traffic};
use aws_sdk_elasticloadbalancingv2 as elb;
use elb::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig, TargetDescription,
    TargetGroupStickinessConfig, TargetGroupTuple,
};

#[derive(Clone)]
pub struct SdkTraffic {
    client: elb::Client,
}

impl SdkTraffic {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SdkTraffic {
            client: elb::Client::new(config),
        }
    }
}

fn to_listener_action(action: &Action) -> ListenerAction {
    match action.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let mut targets: Vec<(String, u16)> = match action.forward_config() {
                Some(fc) if !fc.target_groups().is_empty() => fc
                    .target_groups()
                    .iter()
                    .filter_map(|t| {
                        let w = t.weight().unwrap_or(1).clamp(0, i32::from(u16::MAX));
                        t.target_group_arn().map(|a| (a.to_string(), w as u16))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if targets.is_empty() {
                if let Some(arn) = action.target_group_arn() {
                    targets.push((arn.to_string(), 1));
                }
            }
            let stickiness = action
                .forward_config()
                .and_then(|fc| fc.target_group_stickiness_config())
                .map(|s| (s.enabled().unwrap_or(false), s.duration_seconds()));
            ListenerAction::Forward {
                targets,
                stickiness,
            }
        }
        Some(ActionTypeEnum::FixedResponse) => ListenerAction::FixedResponse {
            status: action
                .fixed_response_config()
                .and_then(|f| f.status_code().map(str::to_string))
                .unwrap_or_default(),
        },
        other => ListenerAction::Other {
            kind: other.map(|k| k.as_str().to_string()).unwrap_or_default(),
        },
    }
}

impl Traffic for SdkTraffic {
    async fn read_default_action(&self, listener_arn: &str) -> Result<ListenerAction, AwsError> {
        let out = self
            .client
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeListeners", listener_arn, e))?;
        let listener = out.listeners().first().ok_or_else(|| {
            AwsError::new("DescribeListeners", listener_arn, "listener not found")
        })?;
        // A listener has exactly one terminal action; authenticate-* actions come before it.
        let mut actions: Vec<&Action> = listener.default_actions().iter().collect();
        actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
        match actions.as_slice() {
            [only] => Ok(to_listener_action(only)),
            [] => Err(AwsError::new(
                "DescribeListeners",
                listener_arn,
                "listener has no default action",
            )),
            many => Ok(ListenerAction::Other {
                kind: format!("{} chained actions", many.len()),
            }),
        }
    }

    async fn set_forward(
        &self,
        listener_arn: &str,
        targets: &[(String, u16)],
        stickiness: Option<(bool, Option<i32>)>,
    ) -> Result<(), AwsError> {
        let mut fc = ForwardActionConfig::builder();
        for (arn, weight) in targets {
            fc = fc.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(arn)
                    .weight(i32::from(*weight))
                    .build(),
            );
        }
        if let Some((enabled, duration)) = stickiness {
            let mut s = TargetGroupStickinessConfig::builder().enabled(enabled);
            if let Some(d) = duration {
                s = s.duration_seconds(d);
            }
            fc = fc.target_group_stickiness_config(s.build());
        }
        let action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(fc.build())
            .build();
        self.client
            .modify_listener()
            .listener_arn(listener_arn)
            .default_actions(action)
            .send()
            .await
            .map_err(|e| AwsError::sdk("ModifyListener", listener_arn, e))?;
        Ok(())
    }

    async fn set_fixed_response(&self, listener_arn: &str, status: &str) -> Result<(), AwsError> {
        let fixed = FixedResponseActionConfig::builder()
            .status_code(status)
            .content_type("text/plain")
            .message_body("no color is live")
            .build();
        let action = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(fixed)
            .build();
        self.client
            .modify_listener()
            .listener_arn(listener_arn)
            .default_actions(action)
            .send()
            .await
            .map_err(|e| AwsError::sdk("ModifyListener", listener_arn, e))?;
        Ok(())
    }

    async fn target_health(&self, target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        let out = self
            .client
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeTargetHealth", target_group_arn, e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let t: Option<&TargetDescription> = d.target();
                let h = d.target_health();
                TargetHealth {
                    id: t.and_then(|t| t.id()).unwrap_or_default().to_string(),
                    port: t.and_then(|t| t.port()),
                    state: h
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    reason: h.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
                }
            })
            .collect())
    }
}
