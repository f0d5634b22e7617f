//! Loopback HTTP servers for tests: [`HttpApp`], a stand-in for the deployed service whose
//! answers an HTTP health check sees, and the server thread it shares with the fault proxy.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type Body = BoxBody<Bytes, BoxError>;

struct AppState {
    status: AtomicU16,
    body: Mutex<String>,
    delay: Mutex<Duration>,
    hits: AtomicUsize,
}

/// Answers every method and path with the current status and body, after the current delay.
/// Starts as `200 ok`. Dropping it stops the server.
pub struct HttpApp {
    server: ServerThread,
    state: Arc<AppState>,
}

impl HttpApp {
    pub fn start() -> HttpApp {
        let state = Arc::new(AppState {
            status: AtomicU16::new(200),
            body: Mutex::new("ok".to_owned()),
            delay: Mutex::new(Duration::ZERO),
            hits: AtomicUsize::new(0),
        });
        let shared = Arc::clone(&state);
        let server = ServerThread::start("http-app", move |_req| answer(Arc::clone(&shared)));
        HttpApp { server, state }
    }

    /// Base URL, `http://127.0.0.1:PORT` (any path answers).
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn set_status(&self, status: u16) {
        StatusCode::from_u16(status).unwrap_or_else(|_| panic!("{status} is not an HTTP status"));
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn set_body(&self, body: &str) {
        *self.state.body.lock().unwrap() = body.to_owned();
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Requests received so far (counted on arrival, before the delay).
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

async fn answer(state: Arc<AppState>) -> Response<Body> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // Read after the delay: a switch made while a request waits applies to it, like a real app
    // that answers from its current state.
    let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).expect("checked");
    let body = state.body.lock().unwrap().clone();
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(Into::into).boxed());
    *response.status_mut() = status;
    let text = HeaderValue::from_static("text/plain; charset=utf-8");
    response.headers_mut().insert(CONTENT_TYPE, text);
    response
}

// ---------------------------------------------------------------------------------------------
// A loopback HTTP/1.1 server on its own thread and tokio runtime (shared with `HttpApp`)

/// Serves `handler` on 127.0.0.1 with keep-alive. Dropping it stops the accept loop, drops
/// every connection (the runtime goes with the thread) and joins the thread.
pub(super) struct ServerThread {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    pub(super) fn start<H, F>(name: &str, handler: H) -> ServerThread
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("{name}: bind a loopback port: {e}"));
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel();
        let counter = Arc::clone(&accepted);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the server thread");
                rt.block_on(accept_loop(listener, handler, stopped, counter));
            })
            .unwrap_or_else(|e| panic!("{name}: spawn the server thread: {e}"));
        ServerThread {
            addr,
            accepted,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(super) fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop<H, F>(
    listener: std::net::TcpListener,
    handler: H,
    mut stopped: oneshot::Receiver<()>,
    accepted: Arc<AtomicUsize>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            next = listener.accept() => match next {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
