//! Tasks: in-process HTTP servers on 127.0.0.1, one per running ECS task, and the decision of
//! which tasks to start and stop, made as ECS makes it (`reconcile`, pure and unit-tested).

use crate::app::{App, AppConfig};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What `reconcile` needs to know of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub id: String,
    /// Runs the service's current task definition on its current target group.
    pub current: bool,
    /// Past its startup delay (answers, registered, routed to).
    pub ready: bool,
}

/// What to do for one service: how many tasks of the current definition to start, which to stop.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub start: usize,
    pub stop: Vec<String>,
}

/// ECS with minimumHealthyPercent 100 and maximumPercent 200: new tasks start first; an old
/// task stops only when a ready new one takes its place; a scale-down stops the tasks that are
/// not ready yet first, then the newest. `tasks` are the live (not draining) tasks, oldest first.
pub fn reconcile(desired: usize, tasks: &[TaskView]) -> Decision {
    let (current, old): (Vec<&TaskView>, Vec<&TaskView>) = tasks.iter().partition(|t| t.current);
    let mut stop = Vec::new();
    let mut kept: Vec<&TaskView> = current.clone();
    if kept.len() > desired {
        // Not ready first, then newest: sort so the ones to keep come first.
        kept.sort_by_key(|t| !t.ready);
        for t in kept.split_off(desired).into_iter().rev() {
            stop.push(t.id.clone());
        }
    }
    let start = desired.saturating_sub(kept.len());
    let ready_current = kept.iter().filter(|t| t.ready).count();
    let keep_old = desired.saturating_sub(ready_current);
    let mut old = old;
    old.sort_by_key(|t| !t.ready); // keep ready old tasks, stop starting ones first
    for t in old.into_iter().skip(keep_old) {
        stop.push(t.id.clone());
    }
    Decision { start, stop }
}

/// What DescribeServices reports of one service's tasks (`service-tasks.json`, answered by the
/// launcher's `ecs-service-counts-from-file` patch). `running`: tasks in ECS's RUNNING state,
/// here past their startup delay (answering, registered as targets), health checks passed or
/// not, as ECS counts them; `pending`: started, still in their startup delay (PENDING /
/// ACTIVATING). Draining tasks are neither (ECS's DEACTIVATING). `primary_*`: the same for the
/// tasks of the service's current task definition (its PRIMARY deployment).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceCounts {
    pub cluster_arn: String,
    pub service_name: String,
    pub running: usize,
    pub pending: usize,
    pub primary_running: usize,
    pub primary_pending: usize,
}

/// One entry per service in `services` (`<cluster ARN>/<service name>` keys; zeros included:
/// a service without tasks runs none), counting `tasks` as (service key, current, ready) of
/// the live (not draining) tasks.
pub fn service_counts<'a>(
    services: impl IntoIterator<Item = &'a str>,
    tasks: &[(&str, bool, bool)],
) -> Vec<ServiceCounts> {
    services
        .into_iter()
        .filter_map(|key| {
            let (cluster_arn, service_name) = key.rsplit_once('/')?;
            let count = |current_only: bool, ready: bool| {
                tasks
                    .iter()
                    .filter(|(k, c, r)| *k == key && (*c || !current_only) && *r == ready)
                    .count()
            };
            Some(ServiceCounts {
                cluster_arn: cluster_arn.to_owned(),
                service_name: service_name.to_owned(),
                running: count(false, true),
                pending: count(false, false),
                primary_running: count(true, true),
                primary_pending: count(true, false),
            })
        })
        .collect()
}

/// The file next to the target health file where the counts go (the launcher finds it there).
pub fn service_counts_path(target_health_file: &std::path::Path) -> std::path::PathBuf {
    target_health_file.with_file_name("service-tasks.json")
}

/// Writes `{"services": [...]}` to `path` whole: a temporary file renamed over it.
pub fn write_service_counts(
    path: &std::path::Path,
    counts: &[ServiceCounts],
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "services": counts }))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A running task server. Dropping it does not stop it: call [`TaskServer::stop`].
pub struct TaskServer {
    pub id: String,
    pub addr: SocketAddr,
    pub ready_at: Instant,
    inflight: Arc<AtomicUsize>,
    shutdown: Arc<Notify>,
    pub stopped: Arc<AtomicBool>,
}

impl TaskServer {
    /// Task number `n` listens on its own loopback address, 127.77.x.y: the emulator keys a
    /// group's targets by Id alone, so two tasks on 127.0.0.1 would be one target there.
    pub async fn start(id: String, n: u64, config: AppConfig) -> std::io::Result<TaskServer> {
        let n = n % (250 * 256);
        let ip = Ipv4Addr::new(127, 77, (n / 250) as u8, (n % 250 + 1) as u8);
        let listener = TcpListener::bind((ip, 0)).await?;
        let addr = listener.local_addr()?;
        let ready_at = Instant::now() + config.startup_delay;
        let app = Arc::new(App::new(config, id.clone()));
        let inflight = Arc::new(AtomicUsize::new(0));
        let shutdown = Arc::new(Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        tokio::spawn(serve(
            listener,
            app,
            inflight.clone(),
            shutdown.clone(),
            stopped.clone(),
        ));
        Ok(TaskServer {
            id,
            addr,
            ready_at,
            inflight,
            shutdown,
            stopped,
        })
    }

    pub fn ready(&self, now: Instant) -> bool {
        now >= self.ready_at
    }

    /// Drains: the caller has already taken the task out of routing. Waits a moment for
    /// requests already routed here to arrive, then until none is in flight (at most `timeout`),
    /// then closes the socket and every connection.
    pub fn stop(&self, timeout: Duration) {
        let inflight = self.inflight.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let deadline = Instant::now() + timeout;
            while inflight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            shutdown.notify_one();
        });
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    inflight: Arc<AtomicUsize>,
    shutdown: Arc<Notify>,
    stopped: Arc<AtomicBool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.notified() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let inflight = inflight.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let app = app.clone();
                        inflight.fetch_add(1, Ordering::SeqCst);
                        let guard = InFlight(inflight.clone());
                        async move {
                            let response = app.handle(req).await;
                            drop(guard);
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    stopped.store(true, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, current: bool, ready: bool) -> TaskView {
        TaskView {
            id: id.into(),
            current,
            ready,
        }
    }

    #[test]
    fn service_counts_split_running_from_pending_and_the_primary_from_the_rest() {
        let a = "arn:aws:ecs:us-east-1:123456789012:cluster/c/a";
        let b = "arn:aws:ecs:us-east-1:123456789012:cluster/c/b";
        // a: an old task running, a new one running, a new one still in its startup delay.
        let tasks = [(a, false, true), (a, true, true), (a, true, false)];
        let counts = service_counts([a, b], &tasks);
        assert_eq!(
            counts[0],
            ServiceCounts {
                cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/c".into(),
                service_name: "a".into(),
                running: 2,
                pending: 1,
                primary_running: 1,
                primary_pending: 1,
            }
        );
        // b has no task: listed with zeros, not left to the emulator.
        assert_eq!(
            (
                counts[1].service_name.as_str(),
                counts[1].running,
                counts[1].pending
            ),
            ("b", 0, 0)
        );
    }

    #[test]
    fn service_counts_are_written_whole_next_to_the_health_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = service_counts_path(&dir.path().join("target-health.json"));
        assert_eq!(path, dir.path().join("service-tasks.json"));
        let counts = service_counts(["arn:c/cluster/x/s"], &[("arn:c/cluster/x/s", true, false)]);
        write_service_counts(&path, &counts).unwrap();
        let read: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            read["services"][0],
            serde_json::json!({"cluster_arn": "arn:c/cluster/x", "service_name": "s",
                "running": 0, "pending": 1, "primary_running": 0, "primary_pending": 1})
        );
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn scale_up_starts_the_missing_tasks() {
        assert_eq!(
            reconcile(3, &[t("a", true, true)]),
            Decision {
                start: 2,
                stop: vec![]
            }
        );
    }

    #[test]
    fn scale_down_stops_starting_tasks_then_the_newest() {
        let tasks = [t("a", true, true), t("b", true, true), t("c", true, false)];
        assert_eq!(reconcile(1, &tasks).stop, vec!["c", "b"]);
        assert_eq!(reconcile(0, &tasks).stop.len(), 3);
    }

    #[test]
    fn a_new_definition_replaces_old_tasks_only_as_new_ones_become_ready() {
        let old = [t("o1", false, true), t("o2", false, true)];
        // Nothing new yet: start two, stop nothing.
        assert_eq!(
            reconcile(2, &old),
            Decision {
                start: 2,
                stop: vec![]
            }
        );
        // One new ready: one old may go.
        let mut tasks = old.to_vec();
        tasks.extend([t("n1", true, true), t("n2", true, false)]);
        assert_eq!(
            reconcile(2, &tasks),
            Decision {
                start: 0,
                stop: vec!["o2".into()]
            }
        );
        // Both ready: every old task goes.
        tasks[3].ready = true;
        assert_eq!(reconcile(2, &tasks).stop, vec!["o1", "o2"]);
    }
}
