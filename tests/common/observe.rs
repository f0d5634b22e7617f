//! Independent observers: read the emulator with the AWS SDK directly, never through
//! bluegreen's adapters, so a test sees what really happened on "AWS".

use std::collections::BTreeMap;
use std::future::Future;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ecs::config::{Credentials, Region};
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::TaskDefinitionStatus;
use aws_sdk_elasticloadbalancingv2 as elbv2;

use super::emulator::Emulator;
use super::views::{
    ActionView, ClusterView, EmulatorSnapshot, ListenerView, LoadBalancerView, RuleView,
    ServiceView, TargetGroupView, TaskDefinitionView,
};

/// The observers' own runtime and SDK configuration, made on first use.
pub(crate) struct Aws {
    rt: tokio::runtime::Runtime,
    config: SdkConfig,
}

impl Aws {
    fn new(endpoint: String) -> Aws {
        // Multi-thread (one worker) so the SDK's connection tasks keep running between calls,
        // whichever test thread calls next.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("build a tokio runtime for the observers");
        let config = rt.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .load(),
        );
        Aws { rt, config }
    }
}

fn ok<T, E: std::error::Error>(operation: &str, result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{operation} failed: {}", DisplayErrorContext(&e)))
}

fn chunks(items: &[String], size: usize) -> impl Iterator<Item = Vec<String>> + '_ {
    items.chunks(size).map(<[String]>::to_vec)
}

// ---------------------------------------------------------------------------------------------
// Observer methods

impl Emulator {
    fn aws(&self) -> &Aws {
        self.aws.get_or_init(|| Aws::new(self.endpoint()))
    }

    /// Runs a future on the observers' runtime (for direct SDK calls in a sync test).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.aws().rt.block_on(future)
    }

    /// SDK configuration pointing at this emulator, with dummy credentials.
    /// Creates the state table the DynamoDB journal backend expects (docs/operations.md):
    /// partition key `pk` and sort key `sk`, both strings, on demand.
    pub fn create_state_table(&self, table: &str) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let client = aws_sdk_dynamodb::Client::new(&self.sdk_config());
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .unwrap()
        };
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        let create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(string("pk"))
            .attribute_definitions(string("sk"))
            .send();
        self.block_on(create).unwrap_or_else(|e| {
            panic!(
                "CreateTable {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        });
    }

    pub fn sdk_config(&self) -> SdkConfig {
        self.aws().config.clone()
    }

    pub fn elbv2(&self) -> elbv2::Client {
        elbv2::Client::new(&self.aws().config)
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.aws().config)
    }

    /// The listener with this ARN; panics when there is none.
    pub fn listener(&self, arn: &str) -> ListenerView {
        let out = self.block_on(self.elbv2().describe_listeners().listener_arns(arn).send());
        let out = ok(&format!("DescribeListeners {arn}"), out);
        let listener = out
            .listeners()
            .first()
            .unwrap_or_else(|| panic!("no listener {arn}"));
        ListenerView::from_sdk(listener)
    }

    /// The listener's traffic-deciding default action (see [`ActionView::weights`]).
    pub fn listener_default_action(&self, arn: &str) -> ActionView {
        self.listener(arn).default_action().clone()
    }

    /// Default-action weights per target group ARN.
    pub fn listener_weights(&self, arn: &str) -> BTreeMap<String, i32> {
        self.listener(arn).weights()
    }

    /// The ARN of the target group named `name` (panics when there is none).
    pub fn target_group_arn(&self, name: &str) -> String {
        self.snapshot()
            .target_groups
            .values()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("target group {name}"))
            .arn
            .clone()
    }

    /// The listener on `port` of the load balancer named `lb_name`, if both exist.
    pub fn find_listener_by_port(&self, lb_name: &str, port: i32) -> Option<ListenerView> {
        let elb = self.elbv2();
        let lbs = self.block_on(elb.describe_load_balancers().names(lb_name).send());
        let lbs = match lbs {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_load_balancer_not_found_exception()) =>
            {
                return None
            }
            Err(e) => ok(&format!("DescribeLoadBalancers {lb_name}"), Err(e)),
        };
        let lb_arn = lbs
            .load_balancers()
            .first()?
            .load_balancer_arn()?
            .to_owned();
        self.block_on(listeners_of(&elb, &lb_arn))
            .into_iter()
            .find(|l| l.port == Some(port))
    }

    /// `"id:port"` → health state of every target registered in the group.
    pub fn target_health(&self, target_group_arn: &str) -> BTreeMap<String, String> {
        self.block_on(target_health(&self.elbv2(), target_group_arn))
    }

    /// The service, if it exists (ECS keeps deleted services as `INACTIVE` for a while).
    pub fn find_service(&self, cluster: &str, name: &str) -> Option<ServiceView> {
        let out = self.block_on(
            self.ecs()
                .describe_services()
                .cluster(cluster)
                .services(name)
                .send(),
        );
        let out = ok(&format!("DescribeServices {cluster}/{name}"), out);
        out.services().first().map(ServiceView::from_sdk)
    }

    /// The service; panics when it does not exist.
    pub fn describe_service(&self, cluster: &str, name: &str) -> ServiceView {
        self.find_service(cluster, name)
            .unwrap_or_else(|| panic!("no ECS service {name} in cluster {cluster}"))
    }

    pub fn task_definition(&self, arn: &str) -> TaskDefinitionView {
        self.block_on(task_definition(&self.ecs(), arn))
    }

    /// The image of the task definition's only (or first) container.
    pub fn task_definition_image(&self, arn: &str) -> String {
        let td = self.task_definition(arn);
        td.images
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("task definition {arn} has no containers"))
    }

    /// Everything relevant, for "nothing changed" assertions.
    pub fn snapshot(&self) -> EmulatorSnapshot {
        let (elb, ecs) = (self.elbv2(), self.ecs());
        self.block_on(async {
            let mut snap = EmulatorSnapshot::default();
            elb_snapshot(&elb, &mut snap).await;
            ecs_snapshot(&ecs, &mut snap).await;
            snap
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Collection

async fn listeners_of(elb: &elbv2::Client, lb_arn: &str) -> Vec<ListenerView> {
    let pages = elb
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .into_paginator()
        .send()
        .try_collect()
        .await;
    ok(&format!("DescribeListeners {lb_arn}"), pages)
        .iter()
        .flat_map(|p| p.listeners())
        .map(ListenerView::from_sdk)
        .collect()
}

async fn rules_of(elb: &elbv2::Client, listener_arn: &str) -> Vec<RuleView> {
    let pages = elb
        .describe_rules()
        .listener_arn(listener_arn)
        .into_paginator()
        .send()
        .try_collect()
        .await;
    ok(&format!("DescribeRules {listener_arn}"), pages)
        .iter()
        .flat_map(|p| p.rules())
        .map(|r| RuleView {
            arn: r.rule_arn().unwrap_or_default().to_owned(),
            listener_arn: listener_arn.to_owned(),
            priority: r.priority().map(str::to_owned),
            is_default: r.is_default(),
            conditions: r.conditions().iter().map(|c| format!("{c:?}")).collect(),
            actions: r.actions().iter().map(ActionView::from_sdk).collect(),
        })
        .collect()
}

async fn target_health(elb: &elbv2::Client, tg_arn: &str) -> BTreeMap<String, String> {
    let out = elb
        .describe_target_health()
        .target_group_arn(tg_arn)
        .send()
        .await;
    ok(&format!("DescribeTargetHealth {tg_arn}"), out)
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let target = d.target();
            let id = target.and_then(|t| t.id()).unwrap_or_default();
            let port = target.and_then(|t| t.port());
            let key = port.map_or_else(|| id.to_owned(), |p| format!("{id}:{p}"));
            let state = d
                .target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            (key, state)
        })
        .collect()
}

async fn elb_snapshot(elb: &elbv2::Client, snap: &mut EmulatorSnapshot) {
    let pages = elb
        .describe_load_balancers()
        .into_paginator()
        .send()
        .try_collect()
        .await;
    for lb in ok("DescribeLoadBalancers", pages)
        .iter()
        .flat_map(|p| p.load_balancers())
    {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
        for listener in listeners_of(elb, &arn).await {
            for rule in rules_of(elb, &listener.arn).await {
                snap.rules.insert(rule.arn.clone(), rule);
            }
            snap.listeners.insert(listener.arn.clone(), listener);
        }
        let view = LoadBalancerView {
            arn: arn.clone(),
            name: lb.load_balancer_name().unwrap_or_default().to_owned(),
            lb_type: lb.r#type().map(|t| t.as_str().to_owned()),
            scheme: lb.scheme().map(|s| s.as_str().to_owned()),
            state: lb
                .state()
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_owned()),
            dns_name: lb.dns_name().map(str::to_owned),
        };
        snap.load_balancers.insert(arn, view);
    }

    let pages = elb
        .describe_target_groups()
        .into_paginator()
        .send()
        .try_collect()
        .await;
    for tg in ok("DescribeTargetGroups", pages)
        .iter()
        .flat_map(|p| p.target_groups())
    {
        let arn = tg.target_group_arn().unwrap_or_default().to_owned();
        let view = TargetGroupView {
            arn: arn.clone(),
            name: tg.target_group_name().unwrap_or_default().to_owned(),
            protocol: tg.protocol().map(|p| p.as_str().to_owned()),
            port: tg.port(),
            target_type: tg.target_type().map(|t| t.as_str().to_owned()),
            vpc_id: tg.vpc_id().map(str::to_owned),
            health_check_path: tg.health_check_path().map(str::to_owned),
            load_balancer_arns: tg.load_balancer_arns().iter().cloned().collect(),
            targets: target_health(elb, &arn).await,
        };
        snap.target_groups.insert(arn, view);
    }

    let arns: Vec<String> = (snap.load_balancers.keys())
        .chain(snap.listeners.keys())
        .chain(snap.target_groups.keys())
        .cloned()
        .collect();
    // DescribeTags takes at most 20 ARNs.
    for batch in chunks(&arns, 20) {
        let out = elb
            .describe_tags()
            .set_resource_arns(Some(batch))
            .send()
            .await;
        for desc in ok("DescribeTags", out).tag_descriptions() {
            let tags = desc
                .tags()
                .iter()
                .map(|t| {
                    let key = t.key().unwrap_or_default().to_owned();
                    (key, t.value().unwrap_or_default().to_owned())
                })
                .collect();
            let arn = desc.resource_arn().unwrap_or_default().to_owned();
            snap.elb_tags.insert(arn, tags);
        }
    }
}

async fn ecs_snapshot(ecs: &aws_sdk_ecs::Client, snap: &mut EmulatorSnapshot) {
    let pages = ecs
        .list_clusters()
        .into_paginator()
        .send()
        .try_collect()
        .await;
    let cluster_arns: Vec<String> = ok("ListClusters", pages)
        .iter()
        .flat_map(|p| p.cluster_arns().iter().cloned())
        .collect();
    // DescribeClusters takes at most 100 clusters, DescribeServices 10 services.
    for batch in chunks(&cluster_arns, 100) {
        let out = ecs
            .describe_clusters()
            .set_clusters(Some(batch))
            .send()
            .await;
        for c in ok("DescribeClusters", out).clusters() {
            let arn = c.cluster_arn().unwrap_or_default().to_owned();
            let view = ClusterView {
                arn: arn.clone(),
                name: c.cluster_name().unwrap_or_default().to_owned(),
                status: c.status().map(str::to_owned),
            };
            snap.clusters.insert(arn, view);
        }
    }
    for cluster in &cluster_arns {
        let pages = ecs
            .list_services()
            .cluster(cluster)
            .into_paginator()
            .send()
            .try_collect()
            .await;
        let service_arns: Vec<String> = ok(&format!("ListServices {cluster}"), pages)
            .iter()
            .flat_map(|p| p.service_arns().iter().cloned())
            .collect();
        for batch in chunks(&service_arns, 10) {
            let out = ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(batch))
                .send()
                .await;
            for s in ok(&format!("DescribeServices {cluster}"), out).services() {
                let view = ServiceView::from_sdk(s);
                snap.services.insert(view.arn.clone(), view);
            }
        }
    }
    for status in [TaskDefinitionStatus::Active, TaskDefinitionStatus::Inactive] {
        let pages = ecs
            .list_task_definitions()
            .status(status.clone())
            .into_paginator()
            .send()
            .try_collect()
            .await;
        let arns: Vec<String> = ok(&format!("ListTaskDefinitions {status}"), pages)
            .iter()
            .flat_map(|p| p.task_definition_arns().iter().cloned())
            .collect();
        for arn in arns {
            let view = task_definition(ecs, &arn).await;
            snap.task_definitions.insert(arn, view);
        }
    }
}

async fn task_definition(ecs: &aws_sdk_ecs::Client, arn: &str) -> TaskDefinitionView {
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await;
    let out = ok(&format!("DescribeTaskDefinition {arn}"), out);
    let td = out
        .task_definition()
        .unwrap_or_else(|| panic!("DescribeTaskDefinition {arn} returned no task definition"));
    TaskDefinitionView {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        family: td.family().unwrap_or_default().to_owned(),
        revision: td.revision(),
        status: td.status().map(|s| s.as_str().to_owned()),
        images: td
            .container_definitions()
            .iter()
            .map(|c| c.image().unwrap_or_default().to_owned())
            .collect(),
    }
}
