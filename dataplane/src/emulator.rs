//! Reads and writes the emulator through the AWS SDK (`AWS_ENDPOINT_URL`): what the data plane
//! needs of ECS services, task definitions, ALB listeners and rules, and target registrations.

use crate::route::{Action, Condition, ListenerRoute, Rule};
use aws_sdk_ecs as ecs;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use std::collections::{BTreeMap, HashMap};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub struct Emulator {
    pub config: aws_config::SdkConfig,
    pub ecs: ecs::Client,
    pub elbv2: elbv2::Client,
}

/// An ECS service as the data plane runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// `<cluster ARN>/<service name>`.
    pub key: String,
    pub desired: usize,
    pub task_definition: String,
    pub target_group: Option<String>,
}

/// A listener: its ALB port and protocol, and how it routes.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerSpec {
    pub arn: String,
    pub load_balancer_arn: String,
    pub load_balancer_name: String,
    pub port: i32,
    pub protocol: String,
    pub route: ListenerRoute,
}

impl Emulator {
    pub async fn from_env() -> Emulator {
        // No retries and a short timeout: every call is repeated by the next poll anyway, and a
        // gone emulator must fail a pass at once (the exit checks run between passes).
        let config = aws_config::from_env()
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(2))
                    .build(),
            )
            .load()
            .await;
        Emulator {
            ecs: ecs::Client::new(&config),
            elbv2: elbv2::Client::new(&config),
            config,
        }
    }

    /// Every ACTIVE service of every cluster.
    pub async fn services(&self) -> Result<Vec<ServiceSpec>, Error> {
        let mut out = Vec::new();
        let clusters = self.ecs.list_clusters().send().await?;
        for cluster in clusters.cluster_arns() {
            let listed = self.ecs.list_services().cluster(cluster).send().await?;
            for chunk in listed.service_arns().chunks(10) {
                let described = self
                    .ecs
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk.to_vec()))
                    .send()
                    .await?;
                for s in described.services() {
                    if s.status() != Some("ACTIVE") {
                        continue;
                    }
                    out.push(ServiceSpec {
                        key: format!("{cluster}/{}", s.service_name().unwrap_or_default()),
                        desired: usize::try_from(s.desired_count()).unwrap_or(0),
                        task_definition: s.task_definition().unwrap_or_default().to_owned(),
                        target_group: s
                            .load_balancers()
                            .iter()
                            .find_map(|lb| lb.target_group_arn().map(str::to_owned)),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The first container's image and environment.
    pub async fn task_definition(
        &self,
        arn: &str,
    ) -> Result<(String, BTreeMap<String, String>), Error> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await?;
        let container = out
            .task_definition()
            .and_then(|td| td.container_definitions().first())
            .ok_or_else(|| format!("task definition {arn} has no container"))?;
        let env = container
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value()?.to_owned())))
            .collect();
        Ok((container.image().unwrap_or_default().to_owned(), env))
    }

    /// (ARN, name) of every load balancer.
    pub async fn load_balancers(&self) -> Result<Vec<(String, String)>, Error> {
        let lbs = self.elbv2.describe_load_balancers().send().await?;
        Ok(lbs
            .load_balancers()
            .iter()
            .map(|lb| {
                (
                    lb.load_balancer_arn().unwrap_or_default().to_owned(),
                    lb.load_balancer_name().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }

    /// Every listener of these load balancers, with its rules: one request per load balancer
    /// and per listener, all in flight at once, so a poll costs about one round trip.
    pub async fn listeners(&self, lbs: &[(String, String)]) -> Result<Vec<ListenerSpec>, Error> {
        let mut described = tokio::task::JoinSet::new();
        for (lb_arn, lb_name) in lbs.iter().cloned() {
            let elbv2 = self.elbv2.clone();
            described.spawn(async move {
                let out = elbv2
                    .describe_listeners()
                    .load_balancer_arn(&lb_arn)
                    .send()
                    .await;
                (lb_arn, lb_name, out)
            });
        }
        let mut ruled = tokio::task::JoinSet::new();
        while let Some(joined) = described.join_next().await {
            let (lb_arn, lb_name, out) = joined?;
            let out = match out {
                Ok(out) => out,
                // A load balancer deleted since it was listed has no listeners.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_load_balancer_not_found_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            for l in out.listeners.unwrap_or_default() {
                let (elbv2, lb_arn, lb_name) =
                    (self.elbv2.clone(), lb_arn.clone(), lb_name.clone());
                ruled.spawn(async move {
                    let arn = l.listener_arn().unwrap_or_default().to_owned();
                    let rules = elbv2.describe_rules().listener_arn(&arn).send().await?;
                    Ok::<_, Error>(ListenerSpec {
                        route: listener_route(l.default_actions(), rules.rules()),
                        arn,
                        load_balancer_arn: lb_arn,
                        load_balancer_name: lb_name,
                        port: l.port().unwrap_or(0),
                        protocol: l
                            .protocol()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default(),
                    })
                });
            }
        }
        let mut out = Vec::new();
        while let Some(joined) = ruled.join_next().await {
            out.push(joined??);
        }
        out.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(out)
    }

    /// Every target group's health check settings (DescribeTargetGroups), by ARN; a setting
    /// the emulator leaves out takes ALB's default.
    pub async fn health_settings(&self) -> Result<HashMap<String, crate::health::Settings>, Error> {
        use std::time::Duration;
        let mut out = HashMap::new();
        let mut marker = None;
        loop {
            let page = self
                .elbv2
                .describe_target_groups()
                .set_marker(marker)
                .send()
                .await?;
            for tg in page.target_groups() {
                let Some(arn) = tg.target_group_arn() else {
                    continue;
                };
                let d = crate::health::Settings::default();
                let secs = |v: Option<i32>, default: Duration| {
                    v.and_then(|v| u64::try_from(v).ok())
                        .map_or(default, Duration::from_secs)
                };
                let count = |v: Option<i32>, default: u32| {
                    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(default)
                };
                let settings = crate::health::Settings {
                    path: tg.health_check_path().unwrap_or(&d.path).to_owned(),
                    interval: secs(tg.health_check_interval_seconds(), d.interval),
                    timeout: secs(tg.health_check_timeout_seconds(), d.timeout),
                    healthy_threshold: count(tg.healthy_threshold_count(), d.healthy_threshold),
                    unhealthy_threshold: count(
                        tg.unhealthy_threshold_count(),
                        d.unhealthy_threshold,
                    ),
                    matcher: tg
                        .matcher()
                        .and_then(|m| m.http_code())
                        .map_or(d.matcher.clone(), crate::health::Matcher::parse),
                };
                out.insert(arn.to_owned(), settings);
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    /// (Id, Port) of every target registered in the group.
    pub async fn targets(&self, target_group: &str) -> Result<Vec<(String, i32)>, Error> {
        let out = self
            .elbv2
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target())
            .map(|t| (t.id().unwrap_or_default().to_owned(), t.port().unwrap_or(0)))
            .collect())
    }

    pub async fn register(
        &self,
        target_group: &str,
        targets: &[(String, i32)],
    ) -> Result<(), Error> {
        if targets.is_empty() {
            return Ok(());
        }
        self.elbv2
            .register_targets()
            .target_group_arn(target_group)
            .set_targets(Some(descriptions(targets)))
            .send()
            .await?;
        Ok(())
    }

    pub async fn deregister(
        &self,
        target_group: &str,
        targets: &[(String, i32)],
    ) -> Result<(), Error> {
        if targets.is_empty() {
            return Ok(());
        }
        self.elbv2
            .deregister_targets()
            .target_group_arn(target_group)
            .set_targets(Some(descriptions(targets)))
            .send()
            .await?;
        Ok(())
    }
}

fn descriptions(targets: &[(String, i32)]) -> Vec<elbv2::types::TargetDescription> {
    targets
        .iter()
        .map(|(id, port)| {
            elbv2::types::TargetDescription::builder()
                .id(id)
                .port(*port)
                .build()
        })
        .collect()
}

fn listener_route(
    defaults: &[elbv2::types::Action],
    rules: &[elbv2::types::Rule],
) -> ListenerRoute {
    let rules = rules
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .filter_map(|r| {
            Some(Rule {
                priority: r.priority()?.parse().ok()?,
                conditions: r.conditions().iter().map(condition).collect(),
                action: action(r.actions()),
            })
        })
        .collect();
    ListenerRoute {
        rules,
        default: action(defaults),
    }
}

fn condition(c: &elbv2::types::RuleCondition) -> Condition {
    let field = c.field().unwrap_or_default();
    let values = |configured: Option<&[String]>| -> Vec<String> {
        match configured {
            Some(v) if !v.is_empty() => v.to_vec(),
            _ => c.values().to_vec(),
        }
    };
    match field {
        "path-pattern" => Condition::Path(values(c.path_pattern_config().map(|p| p.values()))),
        "host-header" => Condition::Host(values(c.host_header_config().map(|h| h.values()))),
        other => Condition::Unsupported(other.to_owned()),
    }
}

/// The terminal action (the one with the highest order; authenticate-* come first on AWS).
fn action(actions: &[elbv2::types::Action]) -> Action {
    let Some(a) = actions.iter().max_by_key(|a| a.order().unwrap_or(0)) else {
        return Action::Unsupported("no action".into());
    };
    let kind = a.r#type().map(|t| t.as_str()).unwrap_or_default();
    match kind {
        "forward" => {
            let mut groups: HashMap<String, u32> = HashMap::new();
            if let Some(cfg) = a.forward_config() {
                for t in cfg.target_groups() {
                    if let Some(arn) = t.target_group_arn() {
                        let w = u32::try_from(t.weight().unwrap_or(1)).unwrap_or(0);
                        *groups.entry(arn.to_owned()).or_default() += w;
                    }
                }
            }
            if groups.is_empty() {
                if let Some(arn) = a.target_group_arn() {
                    groups.insert(arn.to_owned(), 1);
                }
            }
            let mut groups: Vec<(String, u32)> = groups.into_iter().collect();
            groups.sort();
            Action::Forward(groups)
        }
        "fixed-response" => {
            let cfg = a.fixed_response_config();
            Action::Fixed {
                status: cfg
                    .and_then(|c| c.status_code())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(200),
                content_type: cfg.and_then(|c| c.content_type()).map(str::to_owned),
                body: cfg
                    .and_then(|c| c.message_body())
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
        other => Action::Unsupported(other.to_owned()),
    }
}
