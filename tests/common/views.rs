//! What the observers return: the parts of each resource that matter to bluegreen, in a form
//! that compares (`PartialEq`) and prints (`Debug`) well, and the whole-emulator snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use aws_sdk_elasticloadbalancingv2 as elbv2;

/// One listener or rule action. Forward weights are keyed by target group ARN, so the order
/// the groups are listed in does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionView {
    pub action_type: String,
    pub order: Option<i32>,
    pub target_group_arn: Option<String>,
    /// `ForwardConfig` target groups and their weights as stored.
    pub forward: BTreeMap<String, Option<i32>>,
    /// `(enabled, duration_seconds)` of the forward config's stickiness.
    pub stickiness: Option<(Option<bool>, Option<i32>)>,
    /// Redirect / fixed-response / authenticate configs, as their debug text.
    pub other: Option<String>,
}

impl ActionView {
    pub(super) fn from_sdk(action: &elbv2::types::Action) -> ActionView {
        let forward = action.forward_config();
        let other = action
            .redirect_config()
            .map(|c| format!("{c:?}"))
            .or_else(|| action.fixed_response_config().map(|c| format!("{c:?}")))
            .or_else(|| action.authenticate_oidc_config().map(|c| format!("{c:?}")))
            .or_else(|| {
                action
                    .authenticate_cognito_config()
                    .map(|c| format!("{c:?}"))
            });
        ActionView {
            action_type: action
                .r#type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            order: action.order(),
            target_group_arn: action.target_group_arn().map(str::to_owned),
            forward: forward
                .map(|f| {
                    f.target_groups()
                        .iter()
                        .map(|t| {
                            (
                                t.target_group_arn().unwrap_or_default().to_owned(),
                                t.weight(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            stickiness: forward
                .and_then(|f| f.target_group_stickiness_config())
                .map(|s| (s.enabled(), s.duration_seconds())),
            other,
        }
    }

    /// Weight per target group as the ALB applies them: a plain `TargetGroupArn` forward is
    /// one group; a missing weight is 1 (the ALB's default, and moto's).
    pub fn weights(&self) -> BTreeMap<String, i32> {
        if !self.forward.is_empty() {
            return self
                .forward
                .iter()
                .map(|(arn, w)| (arn.clone(), w.unwrap_or(1)))
                .collect();
        }
        self.target_group_arn
            .iter()
            .map(|arn| (arn.clone(), 1))
            .collect()
    }

    /// Target groups that receive any traffic.
    pub fn live_target_groups(&self) -> BTreeSet<String> {
        self.weights()
            .into_iter()
            .filter(|(_, w)| *w > 0)
            .map(|(arn, _)| arn)
            .collect()
    }
}

fn terminal_action(actions: &[ActionView]) -> &ActionView {
    // Authenticate actions come first; the one that decides where traffic goes is last.
    actions
        .iter()
        .max_by_key(|a| a.order.unwrap_or(i32::MAX))
        .expect("a listener always has a default action")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerView {
    pub arn: String,
    pub name: String,
    pub lb_type: Option<String>,
    pub scheme: Option<String>,
    pub state: Option<String>,
    pub dns_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerView {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: Option<i32>,
    pub protocol: Option<String>,
    pub default_actions: Vec<ActionView>,
}

impl ListenerView {
    pub(super) fn from_sdk(l: &elbv2::types::Listener) -> ListenerView {
        ListenerView {
            arn: l.listener_arn().unwrap_or_default().to_owned(),
            load_balancer_arn: l.load_balancer_arn().unwrap_or_default().to_owned(),
            port: l.port(),
            protocol: l.protocol().map(|p| p.as_str().to_owned()),
            default_actions: l
                .default_actions()
                .iter()
                .map(ActionView::from_sdk)
                .collect(),
        }
    }

    /// The action that decides where traffic goes (the last one, after any authentication).
    pub fn default_action(&self) -> &ActionView {
        terminal_action(&self.default_actions)
    }

    /// Weights of the default action, per target group ARN.
    pub fn weights(&self) -> BTreeMap<String, i32> {
        self.default_action().weights()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub arn: String,
    pub listener_arn: String,
    pub priority: Option<String>,
    pub is_default: Option<bool>,
    /// Conditions as their debug text (compared, not interpreted).
    pub conditions: Vec<String>,
    pub actions: Vec<ActionView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupView {
    pub arn: String,
    pub name: String,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub target_type: Option<String>,
    pub vpc_id: Option<String>,
    pub health_check_path: Option<String>,
    pub load_balancer_arns: BTreeSet<String>,
    /// `"id:port"` → health state.
    pub targets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub arn: String,
    pub name: String,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub arn: String,
    pub name: String,
    pub cluster_arn: String,
    pub status: Option<String>,
    pub task_definition: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// `(target group ARN, container name, container port)`.
    pub load_balancers: BTreeSet<(Option<String>, Option<String>, Option<i32>)>,
}

impl ServiceView {
    pub(super) fn from_sdk(s: &aws_sdk_ecs::types::Service) -> ServiceView {
        ServiceView {
            arn: s.service_arn().unwrap_or_default().to_owned(),
            name: s.service_name().unwrap_or_default().to_owned(),
            cluster_arn: s.cluster_arn().unwrap_or_default().to_owned(),
            status: s.status().map(str::to_owned),
            task_definition: s.task_definition().map(str::to_owned),
            desired: s.desired_count(),
            running: s.running_count(),
            pending: s.pending_count(),
            load_balancers: s
                .load_balancers()
                .iter()
                .map(|lb| {
                    (
                        lb.target_group_arn().map(str::to_owned),
                        lb.container_name().map(str::to_owned),
                        lb.container_port(),
                    )
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionView {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    pub status: Option<String>,
    /// Container images, in container order.
    pub images: Vec<String>,
}

/// Everything on the emulator bluegreen could touch, for "nothing changed" assertions:
/// `assert_eq!(before, after)` or, with a readable diff, [`assert_unchanged`].
/// Maps are keyed by ARN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmulatorSnapshot {
    pub load_balancers: BTreeMap<String, LoadBalancerView>,
    pub listeners: BTreeMap<String, ListenerView>,
    pub rules: BTreeMap<String, RuleView>,
    pub target_groups: BTreeMap<String, TargetGroupView>,
    /// Tags of load balancers, listeners and target groups.
    pub elb_tags: BTreeMap<String, BTreeMap<String, String>>,
    pub clusters: BTreeMap<String, ClusterView>,
    pub services: BTreeMap<String, ServiceView>,
    pub task_definitions: BTreeMap<String, TaskDefinitionView>,
}

impl EmulatorSnapshot {
    /// One entry per added, removed or changed resource; empty when nothing changed.
    pub fn diff(&self, after: &EmulatorSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        diff_map(
            "load balancer",
            &self.load_balancers,
            &after.load_balancers,
            &mut out,
        );
        diff_map("listener", &self.listeners, &after.listeners, &mut out);
        diff_map("rule", &self.rules, &after.rules, &mut out);
        diff_map(
            "target group",
            &self.target_groups,
            &after.target_groups,
            &mut out,
        );
        diff_map("tags of", &self.elb_tags, &after.elb_tags, &mut out);
        diff_map("cluster", &self.clusters, &after.clusters, &mut out);
        diff_map("service", &self.services, &after.services, &mut out);
        diff_map(
            "task definition",
            &self.task_definitions,
            &after.task_definitions,
            &mut out,
        );
        out
    }
}

fn diff_map<V: PartialEq + Debug>(
    kind: &str,
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    for (key, old) in before {
        match after.get(key) {
            None => out.push(format!("{kind} {key} removed; was {old:#?}")),
            Some(new) if new != old => out.push(format!(
                "{kind} {key} changed\nbefore: {old:#?}\nafter: {new:#?}"
            )),
            Some(_) => {}
        }
    }
    for (key, new) in after {
        if !before.contains_key(key) {
            out.push(format!("{kind} {key} added: {new:#?}"));
        }
    }
}

/// Panics with a per-resource diff when the two snapshots differ.
#[track_caller]
pub fn assert_unchanged(before: &EmulatorSnapshot, after: &EmulatorSnapshot) {
    let diff = before.diff(after);
    assert!(
        diff.is_empty(),
        "the emulator's resources changed:\n{}",
        diff.join("\n")
    );
}
