use super::{AwsError, ListenerAction, TargetHealth, Traffic};
use aws_sdk_elasticloadbalancingv2 as elb;
use elb::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig, TargetDescription,
    TargetGroupStickinessConfig, TargetGroupTuple,
};
use std::collections::HashMap;

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

/// What a route ARN names. Production traffic can flow through a listener's default action or
/// through a listener rule's action; both are read and written the same way otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Listener,
    Rule,
}

impl Route {
    /// `arn:<partition>:elasticloadbalancing:<region>:<account>:listener-rule/app/…` is a
    /// rule; anything else (`…:listener/app/…`) is taken for a listener, and the API says so
    /// when it is not one.
    fn of(arn: &str) -> Route {
        match arn.splitn(6, ':').nth(5) {
            Some(resource) if resource.starts_with("listener-rule/") => Route::Rule,
            _ => Route::Listener,
        }
    }
}

/// The one terminal action of a listener or rule; authenticate-* actions come before it.
fn terminal_action(
    operation: &'static str,
    arn: &str,
    actions: &[Action],
) -> Result<ListenerAction, AwsError> {
    let mut actions: Vec<&Action> = actions.iter().collect();
    actions.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    match actions.as_slice() {
        [only] => Ok(to_listener_action(only)),
        [] => Err(AwsError::new(operation, arn, "it has no action")),
        many => Ok(ListenerAction::Other {
            kind: format!("{} chained actions", many.len()),
        }),
    }
}

impl SdkTraffic {
    async fn read_listener(&self, arn: &str) -> Result<ListenerAction, AwsError> {
        const OP: &str = "DescribeListeners";
        let out = self
            .client
            .describe_listeners()
            .listener_arns(arn)
            .send()
            .await
            .map_err(|e| AwsError::sdk(OP, arn, e))?;
        let listener = out
            .listeners()
            .first()
            .ok_or_else(|| AwsError::new(OP, arn, "listener not found"))?;
        terminal_action(OP, arn, listener.default_actions())
    }

    async fn read_rule(&self, arn: &str) -> Result<ListenerAction, AwsError> {
        const OP: &str = "DescribeRules";
        let out = self
            .client
            .describe_rules()
            .rule_arns(arn)
            .send()
            .await
            .map_err(|e| AwsError::sdk(OP, arn, e))?;
        let rule = out
            .rules()
            .iter()
            .find(|r| r.rule_arn() == Some(arn))
            .ok_or_else(|| AwsError::new(OP, arn, "listener rule not found"))?;
        terminal_action(OP, arn, rule.actions())
    }

    /// Every listener in `arns` with one DescribeListeners (following its pages), by ARN.
    async fn read_listeners(
        &self,
        arns: &[&str],
    ) -> Result<HashMap<String, ListenerAction>, AwsError> {
        const OP: &str = "DescribeListeners";
        let mut found = HashMap::new();
        let mut marker = None;
        while !arns.is_empty() {
            let out = self
                .client
                .describe_listeners()
                .set_listener_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::sdk(OP, arns.join(", "), e))?;
            for listener in out.listeners() {
                let arn = listener.listener_arn().unwrap_or_default();
                let action = terminal_action(OP, arn, listener.default_actions())?;
                found.insert(arn.to_string(), action);
            }
            match out.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(found)
    }

    /// Every rule in `arns` with one DescribeRules (following its pages), by ARN.
    async fn read_rules(&self, arns: &[&str]) -> Result<HashMap<String, ListenerAction>, AwsError> {
        const OP: &str = "DescribeRules";
        let mut found = HashMap::new();
        let mut marker = None;
        while !arns.is_empty() {
            let out = self
                .client
                .describe_rules()
                .set_rule_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::sdk(OP, arns.join(", "), e))?;
            for rule in out.rules() {
                let arn = rule.rule_arn().unwrap_or_default();
                let action = terminal_action(OP, arn, rule.actions())?;
                found.insert(arn.to_string(), action);
            }
            match out.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(found)
    }

    /// Replaces the whole action of a listener (its default action) or of a rule. A rule's
    /// conditions and priority are left alone.
    async fn put_action(&self, arn: &str, action: Action) -> Result<(), AwsError> {
        match Route::of(arn) {
            Route::Listener => {
                self.client
                    .modify_listener()
                    .listener_arn(arn)
                    .default_actions(action)
                    .send()
                    .await
                    .map_err(|e| AwsError::sdk("ModifyListener", arn, e))?;
            }
            Route::Rule => {
                self.client
                    .modify_rule()
                    .rule_arn(arn)
                    .actions(action)
                    .send()
                    .await
                    .map_err(|e| AwsError::sdk("ModifyRule", arn, e))?;
            }
        }
        Ok(())
    }
}

impl Traffic for SdkTraffic {
    async fn read_default_action(&self, arn: &str) -> Result<ListenerAction, AwsError> {
        match Route::of(arn) {
            Route::Listener => self.read_listener(arn).await,
            Route::Rule => self.read_rule(arn).await,
        }
    }

    async fn read_actions(&self, arns: &[String]) -> Result<Vec<ListenerAction>, AwsError> {
        let mut listeners: Vec<&str> = Vec::new();
        let mut rules: Vec<&str> = Vec::new();
        for arn in arns {
            let kind = match Route::of(arn) {
                Route::Listener => &mut listeners,
                Route::Rule => &mut rules,
            };
            if !kind.contains(&arn.as_str()) {
                kind.push(arn);
            }
        }
        // The two calls at once: one round, whatever mix of listeners and rules.
        let (listeners, rules) =
            tokio::join!(self.read_listeners(&listeners), self.read_rules(&rules));
        let (listeners, rules) = (listeners?, rules?);
        arns.iter()
            .map(|arn| match Route::of(arn) {
                Route::Listener => listeners
                    .get(arn.as_str())
                    .cloned()
                    .ok_or_else(|| AwsError::new("DescribeListeners", arn, "listener not found")),
                Route::Rule => rules
                    .get(arn.as_str())
                    .cloned()
                    .ok_or_else(|| AwsError::new("DescribeRules", arn, "listener rule not found")),
            })
            .collect()
    }

    async fn set_forward(
        &self,
        arn: &str,
        targets: &[(String, u16)],
        stickiness: Option<(bool, Option<i32>)>,
    ) -> Result<(), AwsError> {
        let mut fc = ForwardActionConfig::builder();
        for (tg, weight) in targets {
            fc = fc.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(tg)
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
        self.put_action(arn, action).await
    }

    async fn set_fixed_response(&self, arn: &str, status: &str) -> Result<(), AwsError> {
        let fixed = FixedResponseActionConfig::builder()
            .status_code(status)
            .content_type("text/plain")
            .message_body("no color is live")
            .build();
        let action = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(fixed)
            .build();
        self.put_action(arn, action).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_arns_are_told_from_listener_arns() {
        let listener = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/bg-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        let rule = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/bg-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        let gov = "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:listener-rule/net/x/1/2/3";
        assert_eq!(Route::of(listener), Route::Listener);
        assert_eq!(Route::of(rule), Route::Rule);
        assert_eq!(Route::of(gov), Route::Rule);
        // A load balancer named "listener-rule" does not make its listener a rule.
        let tricky =
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/listener-rule/1/2";
        assert_eq!(Route::of(tricky), Route::Listener);
    }

    #[test]
    fn a_rule_with_one_forward_reads_like_a_listener_default_action() {
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(
                        TargetGroupTuple::builder()
                            .target_group_arn("tg/blue")
                            .weight(30)
                            .build(),
                    )
                    .target_groups(
                        TargetGroupTuple::builder()
                            .target_group_arn("tg/green")
                            .weight(70)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let read = terminal_action("DescribeRules", "r", std::slice::from_ref(&forward)).unwrap();
        assert_eq!(
            read,
            ListenerAction::Forward {
                targets: vec![("tg/blue".into(), 30), ("tg/green".into(), 70)],
                stickiness: None,
            }
        );
        let chained = terminal_action("DescribeRules", "r", &[forward.clone(), forward]).unwrap();
        assert!(
            matches!(chained, ListenerAction::Other { .. }),
            "{chained:?}"
        );
        let err = terminal_action("DescribeRules", "arn:r", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "AWS DescribeRules on arn:r failed: it has no action"
        );
    }
}
