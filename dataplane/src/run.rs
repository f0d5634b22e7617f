//! `bg-dataplane run`: two polling loops against the emulator (routing: listeners and rules;
//! tasks: ECS services, task servers, target registrations) and the exit conditions.

use crate::alarms;
use crate::app::AppConfig;
use crate::balancer::Balancer;
use crate::checks::{health_checks, routable_pools, write_health};
use crate::emulator::{Emulator, Error, ServiceSpec};
use crate::health::{self, Book, State};
use crate::map::{self, MapEntry};
use crate::metrics;
use crate::tasks::{
    reconcile, service_counts, service_counts_path, write_service_counts, ServiceCounts,
    TaskServer, TaskView,
};
use crate::RunArgs;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

const MAX_POLL: Duration = Duration::from_millis(100);

pub fn say(message: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    eprintln!(
        "bg-dataplane {}.{:03}: {message}",
        now.as_secs(),
        now.subsec_millis()
    );
}

pub async fn run(args: RunArgs) -> Result<(), Error> {
    if args.route_poll > MAX_POLL || args.task_poll > MAX_POLL {
        return Err("--route-poll and --task-poll must be at most 100ms".into());
    }
    let endpoint = std::env::var("AWS_ENDPOINT_URL").map_err(|_| {
        "AWS_ENDPOINT_URL is not set: the data plane only runs against the emulator"
    })?;
    let emu = Emulator::from_env().await;
    let balancer = Balancer::new();
    let last_ok = Arc::new(Mutex::new(Instant::now()));
    say(&format!(
        "reading {endpoint}; map at {}",
        args.map.display()
    ));

    let routing = tokio::spawn(routing_loop(
        emu.clone(),
        balancer.clone(),
        args.map.clone(),
        endpoint,
        args.route_poll,
        last_ok.clone(),
    ));
    let book = Arc::new(Mutex::new(Book::default()));
    if let Some(path) = &args.target_health_file {
        // From now on the emulator leaves registering targets to us (docs/emulator.md).
        health::write(path, &[])?;
    }
    let metrics = (!args.metrics_period.is_zero()).then(|| {
        tokio::spawn(publish_metrics(
            aws_sdk_cloudwatch::Client::new(&emu.config),
            balancer.clone(),
            book.clone(),
            args.metrics_period,
        ))
    });
    let checks = tokio::spawn(health_checks(
        emu.clone(),
        book.clone(),
        args.target_health_file.clone(),
    ));
    // A period counts once the data plane has published all of it: one metrics period later.
    let alarms = (!args.alarm_interval.is_zero()).then(|| {
        tokio::spawn(alarms::run_alarms(
            aws_sdk_cloudwatch::Client::new(&emu.config),
            args.alarm_interval,
            args.metrics_period.max(Duration::from_secs(1)),
        ))
    });
    let mut manager = TaskManager {
        emu: emu.clone(),
        balancer: balancer.clone(),
        tasks: Vec::new(),
        configs: HashMap::new(),
        next_id: 0,
        drain_timeout: args.drain_timeout,
        owned: BTreeSet::new(),
        book,
        health_file: args.target_health_file.clone(),
        counts_written: None,
    };
    let mut tick = tokio::time::interval(args.task_poll);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let why = loop {
        tokio::select! {
            _ = tick.tick() => {
                match manager.pass().await {
                    Ok(()) => *last_ok.lock().expect("last_ok") = Instant::now(),
                    Err(e) => say(&format!("task pass failed: {e}")),
                }
            }
            _ = sigterm.recv() => break "SIGTERM".to_owned(),
            _ = tokio::signal::ctrl_c() => break "SIGINT".to_owned(),
        }
        if let Some(pid) = args.exit_with_pid {
            if !alive(pid) {
                break format!("pid {pid} is gone");
            }
        }
        let quiet = last_ok.lock().expect("last_ok").elapsed();
        if quiet > args.emulator_gone_after {
            break format!("the emulator has not answered for {quiet:?}");
        }
    };
    say(&format!("stopping: {why}"));
    routing.abort();
    checks.abort();
    for m in [metrics, alarms].into_iter().flatten() {
        m.abort();
    }
    let _ = std::fs::remove_file(&args.map);
    if let Some(file) = &args.target_health_file {
        // The emulator answers target health and service counts itself again.
        let _ = std::fs::remove_file(file);
        let _ = std::fs::remove_file(service_counts_path(file));
    }
    // Leave the target groups as a stopped ECS service would: without our targets.
    let _ = tokio::time::timeout(Duration::from_secs(2), manager.deregister_all()).await;
    Ok(())
}

/// True while `pid` runs: it exists and is not a zombie (a killed emulator whose parent has
/// not reaped it yet is gone).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

async fn routing_loop(
    emu: Emulator,
    balancer: Arc<Balancer>,
    map_path: PathBuf,
    endpoint: String,
    every: Duration,
    last_ok: Arc<Mutex<Instant>>,
) {
    let mut sockets: HashMap<String, (MapEntry, tokio::task::JoinHandle<()>)> = HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut written = false;
    // New load balancers are rare: list them once a second, read their listeners every tick.
    let mut lbs: Vec<(String, String)> = Vec::new();
    let mut listed: Option<Instant> = None;
    loop {
        tick.tick().await;
        if listed.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            match emu.load_balancers().await {
                Ok(found) => {
                    lbs = found;
                    listed = Some(Instant::now());
                }
                Err(e) => {
                    say(&format!("reading load balancers failed: {e}"));
                    continue;
                }
            }
        }
        let listeners = match emu.listeners(&lbs).await {
            Ok(l) => l,
            Err(e) => {
                say(&format!("reading listeners failed: {e}"));
                continue;
            }
        };
        *last_ok.lock().expect("last_ok") = Instant::now();
        let mut changed = !written;
        let live: BTreeSet<&str> = listeners.iter().map(|l| l.arn.as_str()).collect();
        sockets.retain(|arn, (_, handle)| {
            let keep = live.contains(arn.as_str());
            if !keep {
                handle.abort();
                balancer.remove_route(arn);
                say(&format!("listener {arn} is gone; its socket is closed"));
                changed = true;
            }
            keep
        });
        for l in &listeners {
            balancer.set_route(&l.arn, &l.load_balancer_arn, l.route.clone());
            if sockets.contains_key(&l.arn) {
                continue;
            }
            match balancer.listen(l.arn.clone()).await {
                Ok((addr, handle)) => {
                    say(&format!(
                        "listener {} (port {}) on http://{addr}",
                        l.arn, l.port
                    ));
                    let entry = MapEntry {
                        listener_arn: l.arn.clone(),
                        load_balancer_arn: l.load_balancer_arn.clone(),
                        load_balancer_name: l.load_balancer_name.clone(),
                        port: l.port,
                        protocol: l.protocol.clone(),
                        url: format!("http://{addr}"),
                    };
                    sockets.insert(l.arn.clone(), (entry, handle));
                    changed = true;
                }
                Err(e) => say(&format!("cannot open a socket for {}: {e}", l.arn)),
            }
        }
        if changed {
            let mut entries: Vec<MapEntry> = sockets.values().map(|(e, _)| e.clone()).collect();
            entries.sort_by(|a, b| {
                (&a.load_balancer_name, a.port).cmp(&(&b.load_balancer_name, b.port))
            });
            match map::write(&map_path, &endpoint, &entries) {
                Ok(()) => written = true,
                Err(e) => say(&format!("cannot write {}: {e}", map_path.display())),
            }
        }
    }
}

/// Every `period`, the counters since the last one into CloudWatch (`AWS/ApplicationELB`).
async fn publish_metrics(
    cw: aws_sdk_cloudwatch::Client,
    balancer: Arc<Balancer>,
    book: Arc<Mutex<Book>>,
    period: Duration,
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let taken = balancer.metrics.take();
        // Every group a listener forwards to, with its (healthy, unhealthy) counts from the
        // health checks (keyed by dimension value; the book is keyed by ARN).
        let hosts: HashMap<_, (usize, usize)> = {
            let book = book.lock().expect("health book");
            let by_dim: HashMap<String, (usize, usize)> = book
                .targets
                .keys()
                .map(|(tg, _)| (metrics::dimension_value(tg), book.counts(tg)))
                .collect();
            balancer
                .healthy_hosts()
                .into_keys()
                .map(|key| {
                    let n = key
                        .1
                        .as_ref()
                        .and_then(|tg| by_dim.get(tg).copied())
                        .unwrap_or((0, 0));
                    (key, n)
                })
                .collect()
        };
        let all = metrics::datums(
            &taken,
            &hosts,
            std::time::SystemTime::now(),
            period < Duration::from_secs(60),
        );
        for chunk in all.chunks(500) {
            let put = cw
                .put_metric_data()
                .namespace("AWS/ApplicationELB")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await;
            if let Err(e) = put {
                say(&format!("PutMetricData failed: {e}"));
            }
        }
    }
}

struct Managed {
    service: String,
    task_definition: String,
    target_group: Option<String>,
    server: TaskServer,
    draining: bool,
}

struct TaskManager {
    emu: Emulator,
    balancer: Arc<Balancer>,
    /// Oldest first.
    tasks: Vec<Managed>,
    configs: HashMap<String, AppConfig>,
    next_id: u64,
    drain_timeout: Duration,
    /// Target groups of the services we run: we own their registrations.
    owned: BTreeSet<String>,
    /// Health of every target we registered (health checks: `health_checks`).
    book: Arc<Mutex<Book>>,
    health_file: Option<PathBuf>,
    /// What `service-tasks.json` (next to the health file) last said.
    counts_written: Option<Vec<ServiceCounts>>,
}

impl TaskManager {
    async fn pass(&mut self) -> Result<(), Error> {
        let services = self.emu.services().await?;
        for s in &services {
            if !self.configs.contains_key(&s.task_definition) {
                match self.emu.task_definition(&s.task_definition).await {
                    Ok((image, env)) => {
                        let config = AppConfig::from_task_definition(&image, &env);
                        self.configs.insert(s.task_definition.clone(), config);
                    }
                    Err(e) => say(&format!("task definition {}: {e}", s.task_definition)),
                }
            }
        }
        let now = Instant::now();
        for s in &services {
            if self.configs.contains_key(&s.task_definition) {
                self.reconcile_service(s, now).await;
            }
        }
        let keys: BTreeSet<&str> = services.iter().map(|s| s.key.as_str()).collect();
        for t in self.tasks.iter_mut() {
            if !t.draining && !keys.contains(t.service.as_str()) {
                say(&format!("task {} stops: its service is gone", t.server.id));
                t.draining = true;
                t.server.stop(self.drain_timeout);
            }
        }
        self.tasks
            .retain(|t| !t.server.stopped.load(Ordering::SeqCst));
        self.owned
            .extend(services.iter().filter_map(|s| s.target_group.clone()));
        // The book (and its file) first: a target moto is told about is already `initial` there.
        let registered = self.registered(now);
        let draining: Vec<(String, SocketAddr)> = self
            .tasks
            .iter()
            .filter(|t| t.draining)
            .filter_map(|t| Some((t.target_group.clone()?, t.server.addr)))
            .collect();
        let live: Vec<(String, SocketAddr)> = registered
            .iter()
            .flat_map(|(tg, addrs)| addrs.iter().map(|a| (tg.clone(), *a)))
            .collect();
        let pools = {
            let mut book = self.book.lock().expect("health book");
            book.sync(&live, &draining, now);
            write_health(self.health_file.as_deref(), &mut book);
            routable_pools(&registered, &book)
        };
        self.balancer.set_pools(pools);
        let synced = self.sync_targets(&registered).await;
        // After the registrations: ECS counts a task RUNNING once it is registered.
        self.write_counts(&services, now);
        synced
    }

    /// Writes `service-tasks.json` when the counts changed (every service we read, zeros
    /// included), so DescribeServices answers them (launcher patch ecs-service-counts-from-file).
    fn write_counts(&mut self, services: &[ServiceSpec], now: Instant) {
        let Some(path) = self.health_file.as_deref().map(service_counts_path) else {
            return;
        };
        let tasks: Vec<(&str, bool, bool)> = self
            .tasks
            .iter()
            .filter(|t| !t.draining)
            .map(|t| {
                let current = services.iter().any(|s| {
                    s.key == t.service
                        && s.task_definition == t.task_definition
                        && s.target_group == t.target_group
                });
                (t.service.as_str(), current, t.server.ready(now))
            })
            .collect();
        let counts = service_counts(services.iter().map(|s| s.key.as_str()), &tasks);
        if self.counts_written.as_ref() == Some(&counts) {
            return;
        }
        match write_service_counts(&path, &counts) {
            Ok(()) => self.counts_written = Some(counts),
            Err(e) => say(&format!("cannot write {}: {e}", path.display())),
        }
    }

    async fn reconcile_service(&mut self, s: &ServiceSpec, now: Instant) {
        let views: Vec<TaskView> = self
            .tasks
            .iter()
            .filter(|t| t.service == s.key && !t.draining)
            .map(|t| TaskView {
                id: t.server.id.clone(),
                current: t.task_definition == s.task_definition && t.target_group == s.target_group,
                // ECS replaces a task behind a load balancer once its successor passes the
                // target group's health checks.
                ready: t.server.ready(now)
                    && t.target_group.as_ref().is_none_or(|tg| {
                        self.book
                            .lock()
                            .expect("health book")
                            .state(tg, t.server.addr)
                            == Some(State::Healthy)
                    }),
            })
            .collect();
        let decision = reconcile(s.desired, &views);
        for id in &decision.stop {
            if let Some(t) = self.tasks.iter_mut().find(|t| &t.server.id == id) {
                say(&format!("task {id} of {} stops (draining)", s.key));
                t.draining = true;
                t.server.stop(self.drain_timeout);
            }
        }
        for _ in 0..decision.start {
            self.next_id += 1;
            let id = format!("task-{}", self.next_id);
            let config = self.configs[&s.task_definition].clone();
            let version = config.version.clone();
            match TaskServer::start(id.clone(), self.next_id, config).await {
                Ok(server) => {
                    say(&format!(
                        "task {id} of {} starts on {} (version {version})",
                        s.key, server.addr
                    ));
                    self.tasks.push(Managed {
                        service: s.key.clone(),
                        task_definition: s.task_definition.clone(),
                        target_group: s.target_group.clone(),
                        server,
                        draining: false,
                    });
                }
                Err(e) => say(&format!("cannot start a task of {}: {e}", s.key)),
            }
        }
    }

    /// Registered targets: ready (past their startup delay), not draining tasks per owned
    /// target group (empty groups included).
    fn registered(&self, now: Instant) -> HashMap<String, Vec<SocketAddr>> {
        let mut pools: HashMap<String, Vec<SocketAddr>> = self
            .owned
            .iter()
            .map(|tg| (tg.clone(), Vec::new()))
            .collect();
        for t in &self.tasks {
            if t.draining || !t.server.ready(now) {
                continue;
            }
            if let Some(tg) = &t.target_group {
                pools.entry(tg.clone()).or_default().push(t.server.addr);
            }
        }
        pools
    }

    /// Each owned group holds exactly our routable tasks: register what is missing,
    /// deregister everything else (placeholders, stopped tasks, anyone else's).
    async fn sync_targets(&self, pools: &HashMap<String, Vec<SocketAddr>>) -> Result<(), Error> {
        for (tg, addrs) in pools {
            let wanted: Vec<(String, i32)> = addrs
                .iter()
                .map(|a| (a.ip().to_string(), i32::from(a.port())))
                .collect();
            let registered = match self.emu.targets(tg).await {
                Ok(r) => r,
                Err(e) => {
                    say(&format!("target group {tg}: {e}"));
                    continue;
                }
            };
            let missing: Vec<_> = wanted
                .iter()
                .filter(|t| !registered.contains(t))
                .cloned()
                .collect();
            let extra: Vec<_> = registered
                .iter()
                .filter(|t| !wanted.contains(t))
                .cloned()
                .collect();
            self.emu.register(tg, &missing).await?;
            self.emu.deregister(tg, &extra).await?;
        }
        Ok(())
    }

    async fn deregister_all(&self) {
        let empty: HashMap<String, Vec<SocketAddr>> = self
            .owned
            .iter()
            .map(|tg| (tg.clone(), Vec::new()))
            .collect();
        let _ = self.sync_targets(&empty).await;
    }
}
