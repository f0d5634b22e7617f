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
