//! A scripted fake of the ports for the driver's tests, in tokio's virtual time: routes that
//! read back what was last written (unless a write is scripted to fail), a stable ECS service
//! with healthy targets, and alarms that go to ALARM at a scripted moment. Every write is
//! logged with the virtual time it was made at.

use crate::domain::color::Weights;
use crate::domain::ports::{
    AlarmState, Alarms, AwsError, ListenerAction, Ports, ServiceDeployment, ServiceState, Services,
    TargetHealth, Traffic,
};
use crate::domain::TargetGroups;
use crate::flow::interrupt::{Interrupts, Stop, StopSource};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub const TG_BLUE: &str = "tg/blue";
pub const TG_GREEN: &str = "tg/green";
pub const TASK_DEFINITION: &str = "td/app-green:2";

pub fn target_groups() -> TargetGroups {
    TargetGroups {
        blue: TG_BLUE.into(),
        green: TG_GREEN.into(),
    }
}

/// One write the driver made (or tried to make) to a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Virtual time since the fake was made.
    pub at: Duration,
    pub route: String,
    pub weights: Weights,
    /// Whether the fake accepted it.
    pub ok: bool,
}

/// Which writes fail: `(route, weights written)` → fail.
type FailRule = Box<dyn Fn(&str, Weights) -> bool + Send>;

pub struct FakeAws {
    start: Instant,
    desired: i32,
    state: Mutex<World>,
}

struct World {
    routes: BTreeMap<String, Weights>,
    writes: Vec<Write>,
    fail: FailRule,
    /// Alarm name → virtual time from which it reads ALARM (OK before).
    alarm_at: BTreeMap<String, Duration>,
    scaled: Vec<(String, i32)>,
    /// The ALB API call each route read or write stands for, in order.
    calls: Vec<&'static str>,
    /// How long each read of the service (a signal poll's slowest call) takes.
    describe_latency: Duration,
}

/// Whether `arn` names a listener rule (`…:listener-rule/…`), as the SDK adapter tells them.
fn is_rule(arn: &str) -> bool {
    arn.contains("listener-rule/")
}

impl FakeAws {
    /// `routes`, each forwarding `weights`; a service of `desired` tasks, stable and healthy.
    pub fn new(routes: &[&str], weights: Weights, desired: i32) -> FakeAws {
        FakeAws {
            start: Instant::now(),
            desired,
            state: Mutex::new(World {
                routes: routes.iter().map(|r| (r.to_string(), weights)).collect(),
                writes: Vec::new(),
                fail: Box::new(|_, _| false),
                alarm_at: BTreeMap::new(),
                scaled: Vec::new(),
                calls: Vec::new(),
                describe_latency: Duration::ZERO,
            }),
        }
    }

    /// Writes for which `rule(route, weights)` is true fail (and change nothing).
    pub fn fail_writes(&self, rule: impl Fn(&str, Weights) -> bool + Send + 'static) {
        self.world().fail = Box::new(rule);
    }

    /// `alarm` reads ALARM from `at` (virtual time since the fake was made) on.
    pub fn alarm_from(&self, alarm: &str, at: Duration) {
        self.world().alarm_at.insert(alarm.into(), at);
    }

    /// Every read of the service takes `latency` (virtual time) from now on: a signal poll
    /// that is not instant.
    pub fn slow_service_reads(&self, latency: Duration) {
        self.world().describe_latency = latency;
    }

    pub fn writes(&self) -> Vec<Write> {
        self.world().writes.clone()
    }

    /// The weights of the writes that were accepted, in order, one per lockstep change (the
    /// same weights written to several routes in a row count once).
    pub fn weight_sequence(&self) -> Vec<Weights> {
        let mut out: Vec<Weights> = Vec::new();
        for w in self.writes().into_iter().filter(|w| w.ok) {
            if out.last() != Some(&w.weights) {
                out.push(w.weights);
            }
        }
        out
    }

    /// The ALB API calls made for routes so far (`DescribeListeners`, `DescribeRules`,
    /// `ModifyListener`, `ModifyRule`), one per call as the SDK adapter would make it.
    pub fn route_calls(&self) -> Vec<&'static str> {
        self.world().calls.clone()
    }

    pub fn route(&self, route: &str) -> Weights {
        self.world().routes[route]
    }

    /// `(service, desired)` of every scaling call.
    pub fn scaled(&self) -> Vec<(String, i32)> {
        self.world().scaled.clone()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.state.lock().expect("fake state")
    }
}

impl Ports for FakeAws {
    type Traffic = FakeAws;
    type Services = FakeAws;
    type Alarms = FakeAws;

    fn traffic(&self) -> &FakeAws {
        self
    }
    fn services(&self) -> &FakeAws {
        self
    }
    fn alarms(&self) -> &FakeAws {
        self
    }
}

impl FakeAws {
    fn read_route(world: &World, arn: &str) -> Result<ListenerAction, AwsError> {
        let w = *world
            .routes
            .get(arn)
            .ok_or_else(|| AwsError::new("DescribeListeners", arn, "ListenerNotFound"))?;
        Ok(ListenerAction::Forward {
            targets: vec![(TG_BLUE.into(), w.blue), (TG_GREEN.into(), w.green)],
            stickiness: None,
        })
    }
}

impl Traffic for FakeAws {
    /// One call per kind of route, as the SDK adapter makes them.
    async fn read_actions(&self, arns: &[String]) -> Result<Vec<ListenerAction>, AwsError> {
        let mut world = self.world();
        if arns.iter().any(|a| !is_rule(a)) {
            world.calls.push("DescribeListeners");
        }
        if arns.iter().any(|a| is_rule(a)) {
            world.calls.push("DescribeRules");
        }
        arns.iter()
            .map(|a| FakeAws::read_route(&world, a))
            .collect()
    }

    async fn read_default_action(&self, arn: &str) -> Result<ListenerAction, AwsError> {
        let mut world = self.world();
        let call = if is_rule(arn) {
            "DescribeRules"
        } else {
            "DescribeListeners"
        };
        world.calls.push(call);
        FakeAws::read_route(&world, arn)
    }

    async fn set_forward(
        &self,
        arn: &str,
        targets: &[(String, u16)],
        _: Option<(bool, Option<i32>)>,
    ) -> Result<(), AwsError> {
        let weight = |tg: &str| targets.iter().find(|(t, _)| t == tg).map_or(0, |t| t.1);
        let weights = Weights {
            blue: weight(TG_BLUE),
            green: weight(TG_GREEN),
        };
        let at = self.elapsed();
        let mut world = self.world();
        let call = if is_rule(arn) {
            "ModifyRule"
        } else {
            "ModifyListener"
        };
        world.calls.push(call);
        let ok = !(world.fail)(arn, weights);
        world.writes.push(Write {
            at,
            route: arn.into(),
            weights,
            ok,
        });
        if !ok {
            return Err(AwsError::new("ModifyListener", arn, "ValidationError"));
        }
        world.routes.insert(arn.into(), weights);
        Ok(())
    }

    async fn set_fixed_response(&self, arn: &str, _: &str) -> Result<(), AwsError> {
        Err(AwsError::new("ModifyListener", arn, "not scripted"))
    }

    async fn target_health(&self, _: &str) -> Result<Vec<TargetHealth>, AwsError> {
        Ok((0..self.desired)
            .map(|i| TargetHealth {
                id: format!("10.0.0.{i}"),
                port: Some(8080),
                state: "healthy".into(),
                reason: None,
            })
            .collect())
    }
}

impl Services for FakeAws {
    async fn describe(&self, _: &str, service: &str) -> Result<Option<ServiceState>, AwsError> {
        let latency = self.world().describe_latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let n = self.desired;
        Ok(Some(ServiceState {
            name: service.into(),
            status: "ACTIVE".into(),
            task_definition: TASK_DEFINITION.into(),
            desired: n,
            running: n,
            pending: 0,
            deployments: vec![ServiceDeployment {
                status: "PRIMARY".into(),
                task_definition: TASK_DEFINITION.into(),
                desired: n,
                running: n,
                failed_tasks: 0,
                rollout_state: Some("COMPLETED".into()),
            }],
            target_groups: vec![TG_GREEN.into()],
        }))
    }

    async fn set_desired(&self, _: &str, service: &str, desired: i32) -> Result<(), AwsError> {
        self.world().scaled.push((service.into(), desired));
        Ok(())
    }

    async fn task_definition_images(&self, _: &str) -> Result<Vec<String>, AwsError> {
        Ok(vec![])
    }
}

impl Alarms for FakeAws {
    async fn alarm_states(&self, names: &[String]) -> Result<Vec<AlarmState>, AwsError> {
        let now = self.elapsed();
        let world = self.world();
        Ok(names
            .iter()
            .map(|n| {
                let alarming = world.alarm_at.get(n).is_some_and(|at| now >= *at);
                AlarmState {
                    name: n.clone(),
                    state: if alarming { "ALARM" } else { "OK" }.into(),
                    reason: None,
                }
            })
            .collect())
    }
}

/// A stop request at one moment of virtual time (or never).
pub struct StopAt(pub Option<(Instant, Stop)>);

impl StopSource for StopAt {
    async fn next(&mut self) -> Stop {
        match self.0 {
            Some((at, stop)) => {
                tokio::time::sleep_until(at).await;
                self.0 = None;
                stop
            }
            None => std::future::pending().await,
        }
    }

    fn during_restore(&self) -> Interrupts {
        Interrupts::none()
    }
}
