//! The health-check loop (ALB's checks of every registered task, with its target group's
//! settings) and what the task manager derives from the checks: the health file and the pools
//! requests are routed to. The rules themselves are in `health.rs`.

use crate::emulator::Emulator;
use crate::health::{self, Book, Probe, State};
use crate::run::say;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

/// Writes the health file when the book changed since the last write.
pub fn write_health(path: Option<&std::path::Path>, book: &mut Book) {
    if !book.dirty {
        return;
    }
    book.dirty = false;
    if let Some(path) = path {
        if let Err(e) = health::write(path, &book.entries()) {
            say(&format!("cannot write {}: {e}", path.display()));
        }
    }
}

/// Per target group, the registered targets a request may go to (health::routable).
pub fn routable_pools(
    registered: &HashMap<String, Vec<SocketAddr>>,
    book: &Book,
) -> HashMap<String, Vec<SocketAddr>> {
    registered
        .iter()
        .map(|(tg, addrs)| {
            let states: std::collections::BTreeMap<SocketAddr, State> = addrs
                .iter()
                .map(|a| (*a, book.state(tg, *a).unwrap_or(State::Initial)))
                .collect();
            (tg.clone(), health::routable(&states).collect())
        })
        .collect()
}

/// Health checks, as ALB sends them: every 100 ms, each target whose check is due gets one
/// (`GET <path>` with the group's timeout); the group's settings are read once a second
/// (DescribeTargetGroups). A target of a group whose settings are not read yet stays `initial`.
pub async fn health_checks(emu: Emulator, book: Arc<Mutex<Book>>, file: Option<PathBuf>) {
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut read_at: Option<Instant> = None;
    loop {
        tick.tick().await;
        if read_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            match emu.health_settings().await {
                Ok(settings) => {
                    book.lock().expect("health book").settings = settings;
                    read_at = Some(Instant::now());
                }
                Err(e) => say(&format!("reading target groups failed: {e}")),
            }
        }
        let now = Instant::now();
        let due: Vec<(String, SocketAddr, health::Settings)> = {
            let mut b = book.lock().expect("health book");
            let settings = b.settings.clone();
            b.targets
                .iter_mut()
                .filter(|(_, c)| {
                    !c.in_flight && c.next_check <= now && c.tracker.state != State::Draining
                })
                .filter_map(|((tg, addr), c)| {
                    let s = settings.get(tg)?.clone();
                    c.in_flight = true;
                    c.next_check = now + s.interval;
                    Some((tg.clone(), *addr, s))
                })
                .collect()
        };
        for (tg, addr, s) in due {
            let (client, book, file) = (client.clone(), book.clone(), file.clone());
            tokio::spawn(async move {
                let probe = check(&client, addr, &s).await;
                let mut b = book.lock().expect("health book");
                let Some(c) = b.targets.get_mut(&(tg.clone(), addr)) else {
                    return;
                };
                c.in_flight = false;
                if c.tracker.observe(&probe, &s) {
                    say(&format!(
                        "target {addr} of {tg}: {:?} ({})",
                        c.tracker.state,
                        c.tracker.reason.unwrap_or("passed health checks")
                    ));
                    b.dirty = true;
                    write_health(file.as_deref(), &mut b);
                }
            });
        }
    }
}

async fn check(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
    addr: SocketAddr,
    s: &health::Settings,
) -> Probe {
    let Ok(uri) = format!("http://{addr}{}", s.path).parse::<hyper::Uri>() else {
        return Probe::Failed;
    };
    let request = hyper::Request::get(uri)
        .header("user-agent", "ELB-HealthChecker/2.0")
        .body(http_body_util::Empty::new());
    let Ok(request) = request else {
        return Probe::Failed;
    };
    match tokio::time::timeout(s.timeout, client.request(request)).await {
        Err(_) => Probe::Timeout,
        Ok(Err(_)) => Probe::Failed,
        Ok(Ok(resp)) => Probe::Status(resp.status().as_u16()),
    }
}
