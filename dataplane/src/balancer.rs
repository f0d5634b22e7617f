//! The load balancer: one loopback socket per ALB listener; each request is routed by the
//! listener's rules and default action as last read from the emulator, to a task of the chosen
//! target group (round-robin over its ready tasks), and proxied there.

use crate::metrics::{dimension_value, Outcome, Recorder};
use crate::route::{pick_weighted, Action, ListenerRoute};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, hyper::Error>;

/// The ready tasks of one target group, with its round-robin counter.
#[derive(Default)]
pub struct Pool {
    pub addrs: Vec<SocketAddr>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(addrs: Vec<SocketAddr>) -> Pool {
        Pool {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    fn pick(&self) -> Option<SocketAddr> {
        if self.addrs.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.addrs.len();
        Some(self.addrs[i])
    }
}

/// What every listener socket reads per request: routes by listener ARN, pools by target
/// group ARN. Writers replace whole entries, so a request sees one consistent version.
pub struct Balancer {
    routes: RwLock<HashMap<String, Arc<Routed>>>,
    pools: RwLock<HashMap<String, Arc<Pool>>>,
    client: Client<HttpConnector, Incoming>,
    pub metrics: Recorder,
}

/// A listener's route and its load balancer's metric dimension (`app/<name>/<id>`).
#[derive(PartialEq)]
struct Routed {
    route: ListenerRoute,
    lb: String,
}

impl Balancer {
    pub fn new() -> Arc<Balancer> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Arc::new(Balancer {
            routes: RwLock::default(),
            pools: RwLock::default(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            metrics: Recorder::default(),
        })
    }

    pub fn set_route(&self, listener: &str, load_balancer_arn: &str, route: ListenerRoute) {
        let routed = Routed {
            route,
            lb: dimension_value(load_balancer_arn),
        };
        let mut routes = self.routes.write().expect("routes lock");
        if routes.get(listener).map(|r| r.as_ref()) != Some(&routed) {
            routes.insert(listener.to_owned(), Arc::new(routed));
        }
    }

    /// Ready tasks per (load balancer, target group) dimension pair, for every group a
    /// listener forwards to: HealthyHostCount.
    pub fn healthy_hosts(&self) -> HashMap<(String, Option<String>), usize> {
        let routes = self.routes.read().expect("routes lock");
        let pools = self.pools.read().expect("pools lock");
        let mut out = HashMap::new();
        for r in routes.values() {
            let actions = r.route.rules.iter().map(|rule| &rule.action);
            for action in actions.chain([&r.route.default]) {
                if let Action::Forward(groups) = action {
                    for (tg, _) in groups {
                        let n = pools.get(tg).map_or(0, |p| p.addrs.len());
                        out.insert((r.lb.clone(), Some(dimension_value(tg))), n);
                    }
                }
            }
        }
        out
    }

    pub fn remove_route(&self, listener: &str) {
        self.routes.write().expect("routes lock").remove(listener);
    }

    /// Replaces every pool at once (target group ARN → ready task addresses).
    pub fn set_pools(&self, pools: HashMap<String, Vec<SocketAddr>>) {
        let mut current = self.pools.write().expect("pools lock");
        current.retain(|tg, _| pools.contains_key(tg));
        for (tg, mut addrs) in pools {
            addrs.sort();
            if current.get(&tg).map(|p| &p.addrs) != Some(&addrs) {
                current.insert(tg, Arc::new(Pool::new(addrs)));
            }
        }
    }

    /// Serves one listener on a new loopback socket; returns its address. The task ends when
    /// the returned handle is aborted.
    pub async fn listen(
        self: &Arc<Self>,
        listener_arn: String,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let socket = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = socket.local_addr()?;
        let balancer = self.clone();
        let arn: Arc<str> = listener_arn.into();
        let counter = Arc::new(AtomicU64::new(0));
        let handle = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = socket.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let (balancer, arn, counter) = (balancer.clone(), arn.clone(), counter.clone());
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                let (balancer, arn, counter) = (balancer.clone(), arn.clone(), counter.clone());
                                async move { Ok::<_, Infallible>(balancer.handle(&arn, &counter, req).await) }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok((addr, handle))
    }

    async fn handle(
        &self,
        listener: &str,
        counter: &AtomicU64,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let route = self
            .routes
            .read()
            .expect("routes lock")
            .get(listener)
            .cloned();
        let Some(routed) = route else {
            return plain(503, "listener not found in the emulator");
        };
        let (route, lb) = (&routed.route, routed.lb.as_str());
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok());
        match route.action_for(req.uri().path(), host) {
            Action::Forward(groups) => {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let Some(tg) = pick_weighted(groups, n) else {
                    self.metrics.record(lb, None, &Outcome::Balancer(503));
                    return plain(503, "no target group with a weight above 0");
                };
                let pool = self.pools.read().expect("pools lock").get(tg).cloned();
                let tg_dim = dimension_value(tg);
                let Some(addr) = pool.and_then(|p| p.pick()) else {
                    self.metrics
                        .record(lb, Some(&tg_dim), &Outcome::Balancer(503));
                    return plain(503, "no healthy target in the target group");
                };
                let started = Instant::now();
                let resp = self.forward(req, addr, tg).await;
                let outcome = match resp.status().as_u16() {
                    502 if !resp.headers().contains_key("x-bg-target-group") => {
                        Outcome::ConnectionError
                    }
                    status => Outcome::Target(status, started.elapsed().as_secs_f64()),
                };
                self.metrics.record(lb, Some(&tg_dim), &outcome);
                resp
            }
            Action::Fixed {
                status,
                content_type,
                body,
            } => {
                self.metrics.record(lb, None, &Outcome::Balancer(*status));
                let mut resp = plain(*status, body);
                if let Some(ct) = content_type.as_deref().and_then(|c| c.parse().ok()) {
                    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, ct);
                }
                resp
            }
            Action::Unsupported(kind) => {
                self.metrics.record(lb, None, &Outcome::Balancer(501));
                plain(
                    501,
                    &format!("action {kind} is not built in the local data plane"),
                )
            }
        }
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        addr: SocketAddr,
        tg: &str,
    ) -> Response<Body> {
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let Ok(uri) = format!("http://{addr}{path}").parse() else {
            return plain(400, "bad request path");
        };
        *req.uri_mut() = uri;
        match self.client.request(req).await {
            Ok(resp) => {
                let mut resp = resp.map(|b| b.boxed());
                if let Ok(v) = tg.rsplit(':').next().unwrap_or(tg).parse() {
                    resp.headers_mut().insert("x-bg-target-group", v);
                }
                resp
            }
            Err(e) => plain(502, &format!("target {addr} failed: {e}")),
        }
    }
}

fn plain(status: u16, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(
            Full::new(Bytes::from(body.to_owned()))
                .map_err(|never: Infallible| match never {})
                .boxed(),
        )
        .unwrap_or_else(|_| {
            Response::new(
                Full::new(Bytes::from_static(b"bad status"))
                    .map_err(|never: Infallible| match never {})
                    .boxed(),
            )
        })
}
