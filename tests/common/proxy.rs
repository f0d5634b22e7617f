//! A fault-injecting HTTP proxy between an AWS client (the SDK, boto3, the binary) and the
//! emulator, for the faults moto cannot produce: unhealthy targets, throttling, 5xx, slow
//! answers and stale listener reads. Rules are switched from the test thread while the client
//! runs; every request is recorded with its AWS operation name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_elasticloadbalancingv2::config::{Credentials, SharedCredentialsProvider};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use super::http_app::{Body, BoxError, ServerThread};

type Upstream = Client<HttpConnector, Full<Bytes>>;

/// One request as the proxy saw it. `faulted`: the client did not get moto's current answer
/// (an injected error, a rewritten health state, or a stale replay). A delay alone is not a
/// fault: the answer is still moto's.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub op: String,
    /// When the request arrived (not when it was answered).
    pub at: Instant,
    pub body: String,
    /// 0 until the answer is known (while moto is still answering).
    pub status: u16,
    pub faulted: bool,
}

impl Recorded {
    /// A field of a query-protocol (form) body, e.g. `TargetGroupArn`.
    pub fn field(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

#[derive(Clone)]
struct Cached {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct State {
    rules: Mutex<Rules>,
    /// Listener reads by (operation, normalized form): what stale mode replays.
    cache: Mutex<HashMap<String, Cached>>,
    /// Every listener-read answer by (operation, normalized form), with when it arrived: what
    /// `stale_before` replays.
    history: Mutex<HashMap<String, Vec<(Instant, Cached)>>>,
    log: Mutex<Vec<Recorded>>,
    request_ids: AtomicUsize,
}

/// The proxy. Dropping it stops its thread and closes its port.
pub struct FaultProxy {
    server: ServerThread,
    state: Arc<State>,
}

impl FaultProxy {
    /// Forwards to `upstream_url` (e.g. [`super::Emulator::endpoint`]), from a fresh loopback
    /// port.
    pub fn start(upstream_url: &str) -> FaultProxy {
        let state = Arc::new(State::default());
        let upstream: Arc<str> = upstream_url.trim_end_matches('/').into();
        let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
        let shared = Arc::clone(&state);
        let server = ServerThread::start("fault-proxy", move |req| {
            handle(
                Arc::clone(&shared),
                client.clone(),
                Arc::clone(&upstream),
                req,
            )
        });
        FaultProxy { server, state }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// TCP connections accepted so far (the SDK reuses one for many requests).
    pub fn connections(&self) -> usize {
        self.server.connections()
    }

    /// SDK configuration that reaches the emulator through this proxy, built explicitly (no
    /// environment, no profile) so parallel tests cannot leak into each other. Retries are the
    /// SDK's standard mode (3 attempts), like bluegreen's own; override with
    /// `.to_builder().retry_config(..)`.
    pub fn sdk_config(&self) -> SdkConfig {
        let credentials = Credentials::new("test", "test", None, None, "fault-proxy");
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.url())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .retry_config(RetryConfig::standard())
            .build()
    }

    /// DescribeTargetHealth answers for `target_group_arn` (`None`: every group) report each
    /// healthy target as unhealthy, failing its health check with a 503.
    pub fn unhealthy_targets(&self, target_group_arn: Option<&str>) {
        self.rules().unhealthy = Some(target_group_arn.map(str::to_owned));
    }

    pub fn healthy_targets(&self) {
        self.rules().unhealthy = None;
    }

    /// Answers `op` with a throttling error, without forwarding, `times` times (`None`: until
    /// cleared). Replaces any earlier throttle or failure for `op`.
    pub fn throttle(&self, op: &str, times: Option<usize>) {
        self.rules().set_fault(op, Fault::Throttle, times);
    }

    /// Answers `op` with a server error (`status`, e.g. 500 or 503) without forwarding.
    pub fn fail(&self, op: &str, status: u16, times: Option<usize>) {
        assert!(
            (500..600).contains(&status),
            "fail() injects server errors; {status} is not a 5xx"
        );
        self.rules().set_fault(op, Fault::Status(status), times);
    }

    /// Holds every answer to `op` for `d` before sending it (zero removes the delay).
    pub fn delay(&self, op: &str, d: Duration) {
        self.rules().delays.insert(op.to_owned(), d);
    }

    /// While on, DescribeListeners and DescribeRules are answered from what they returned
    /// before (writes still reach moto), so read-backs keep showing the old weights.
    pub fn stale_listener_reads(&self, on: bool) {
        self.rules().stale = on;
    }

    /// Forwards `op` to moto (so a write lands) and then never answers, `times` times
    /// (`None`: until cleared): the client sees a call accepted and never answered.
    pub fn hang(&self, op: &str, times: Option<usize>) {
        self.rules().set_fault(op, Fault::Hang, times);
    }

    /// The next `times` DescribeListeners/DescribeRules answers (`None`: until cleared) are the
    /// last answer moto gave to the same request before `before`, as a lagging replica would
    /// give (falls back to moto's current answer when there was none).
    pub fn stale_before(&self, before: Instant, times: Option<usize>) {
        self.rules().stale_before = Some((before, times));
    }

    /// Drops every rule (recordings stay).
    pub fn clear(&self) {
        *self.rules() = Rules::default();
    }

    fn rules(&self) -> std::sync::MutexGuard<'_, Rules> {
        self.state.rules.lock().unwrap()
    }

    /// Every request for `op`, in arrival order.
    pub fn requests(&self, op: &str) -> Vec<Recorded> {
        let log = self.state.log.lock().unwrap();
        log.iter().filter(|r| r.op == op).cloned().collect()
    }

    pub fn count(&self, op: &str) -> usize {
        let log = self.state.log.lock().unwrap();
        log.iter().filter(|r| r.op == op).count()
    }

    /// The operation name of every request so far, in arrival order ("" when unrecognized).
    pub fn operations(&self) -> Vec<String> {
        let log = self.state.log.lock().unwrap();
        log.iter().map(|r| r.op.clone()).collect()
    }

    /// Every ModifyListener's (listener ARN, forward weights), in order; weights are empty for
    /// a non-forward action.
    pub fn modify_listener_weights(&self) -> Vec<(String, Vec<(String, u16)>)> {
        self.written_weights("ModifyListener", "ListenerArn", "DefaultActions")
    }

    /// Every ModifyRule's (rule ARN, forward weights), in order.
    pub fn modify_rule_weights(&self) -> Vec<(String, Vec<(String, u16)>)> {
        self.written_weights("ModifyRule", "RuleArn", "Actions")
    }

    fn written_weights(
        &self,
        op: &str,
        arn: &str,
        actions: &str,
    ) -> Vec<(String, Vec<(String, u16)>)> {
        self.requests(op)
            .iter()
            .map(|r| {
                let form: HashMap<String, String> = form_urlencoded::parse(r.body.as_bytes())
                    .into_owned()
                    .collect();
                let arn = form.get(arn).cloned().unwrap_or_default();
                (arn, forward_weights(&form, actions))
            })
            .collect()
    }
}

async fn handle(
    state: Arc<State>,
    client: Upstream,
    upstream: Arc<str>,
    req: Request<Incoming>,
) -> Response<Body> {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("fault proxy: reading the request: {e}"),
            )
        }
    };
    let call = Call::parse(&parts.headers, parts.uri.path(), parts.uri.query(), &body);
    let plan = state.rules.lock().unwrap().plan(&call);
    let index = {
        let mut log = state.log.lock().unwrap();
        log.push(Recorded {
            op: call.op.clone(),
            at,
            body: String::from_utf8_lossy(&body).into_owned(),
            status: 0,
            faulted: false,
        });
        log.len() - 1
    };

    let (response, faulted) = match plan.fault {
        Some(Fault::Hang) => {
            // The request reaches moto (a write lands); its answer never comes back. The
            // client gives up and drops the connection, which ends this handler.
            {
                let mut log = state.log.lock().unwrap();
                log[index].faulted = true;
            }
            let _ = answer(&state, &client, &upstream, parts, body, &call, &plan).await;
            std::future::pending::<()>().await;
            unreachable!("a hung answer is never sent")
        }
        Some(fault) => (injected(&state, fault, &call), true),
        None => answer(&state, &client, &upstream, parts, body, &call, &plan)
            .await
            .unwrap_or_else(|e| (upstream_failed(&*e), false)),
    };
    {
        let mut log = state.log.lock().unwrap();
        log[index].status = response.status().as_u16();
        log[index].faulted = faulted;
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    response
}

/// moto's answer, or a stale or rewritten copy of it; `true` when it is not moto's current one.
async fn answer(
    state: &State,
    client: &Upstream,
    upstream: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
    call: &Call,
    plan: &Plan,
) -> Result<(Response<Body>, bool), BoxError> {
    let cache_key = call.is_listener_read().then(|| call.cache_key());
    if let (Some(before), Some(key)) = (plan.stale_before, &cache_key) {
        let history = state.history.lock().unwrap();
        let old = history
            .get(key)
            .and_then(|answers| answers.iter().rev().find(|(at, _)| *at < before));
        if let Some((_, hit)) = old {
            let replay = build(hit.status, hit.headers.clone(), Full::new(hit.body.clone()));
            return Ok((replay, true));
        }
    }
    if plan.stale {
        let cache = state.cache.lock().unwrap();
        if let Some(hit) = cache_key.as_ref().and_then(|k| cache.get(k)) {
            let replay = build(hit.status, hit.headers.clone(), Full::new(hit.body.clone()));
            return Ok((replay, true));
        }
    }
    let (head, body) = forward(client, upstream, parts, body).await?.into_parts();
    if cache_key.is_none() && !plan.unhealthy {
        return Ok((build(head.status, head.headers, body), false));
    }
    let mut body = body.collect().await?.to_bytes();
    let mut faulted = false;
    if plan.unhealthy && head.status.is_success() {
        let rewritten = Bytes::from(mark_unhealthy(&String::from_utf8_lossy(&body)));
        faulted = rewritten != body;
        body = rewritten;
    }
    if let (Some(key), true) = (cache_key, head.status.is_success()) {
        let cached = Cached {
            status: head.status,
            headers: head.headers.clone(),
            body: body.clone(),
        };
        let mut history = state.history.lock().unwrap();
        history
            .entry(key.clone())
            .or_default()
            .push((Instant::now(), cached.clone()));
        state.cache.lock().unwrap().insert(key, cached);
    }
    Ok((build(head.status, head.headers, Full::new(body)), faulted))
}

async fn forward(
    client: &Upstream,
    upstream: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Incoming>, BoxError> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{path}"))
        .body(Full::new(body))?;
    *request.headers_mut() = without_hop_by_hop(parts.headers);
    Ok(client.request(request).await?)
}

/// Connection-level headers belong to each hop; the length is recomputed from the body.
fn without_hop_by_hop(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
    headers.remove(CONTENT_LENGTH);
    headers
}

fn build<B>(status: StatusCode, headers: HeaderMap, body: B) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    let mut response = Response::new(body.map_err(Into::into).boxed());
    *response.status_mut() = status;
    *response.headers_mut() = without_hop_by_hop(headers);
    response
}

/// A 502 naming the cause chain (hyper's top-level error alone says only "client error").
fn upstream_failed(mut e: &(dyn std::error::Error + 'static)) -> Response<Body> {
    let mut message = format!("fault proxy: upstream: {e}");
    while let Some(source) = e.source() {
        message.push_str(&format!(": {source}"));
        e = source;
    }
    text(StatusCode::BAD_GATEWAY, message)
}

fn text(status: StatusCode, message: String) -> Response<Body> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    build(status, headers, Full::new(Bytes::from(message)))
}

/// An error in the shape the caller's protocol expects, so SDKs classify it as they would a
/// real one (throttling and 5xx are both retryable for the AWS SDKs and boto3).
fn injected(state: &State, fault: Fault, call: &Call) -> Response<Body> {
    let request_id = format!(
        "fault-proxy-{:08}",
        state.request_ids.fetch_add(1, Ordering::Relaxed)
    );
    let (status, code, message) = match (fault, &call.protocol) {
        (Fault::Throttle, Protocol::Query | Protocol::Unknown) => {
            (400, "Throttling", "Rate exceeded")
        }
        (Fault::Throttle, _) => (400, "ThrottlingException", "Rate exceeded"),
        (Fault::Status(503), _) => (503, "ServiceUnavailable", "Service unavailable (injected)"),
        (Fault::Status(s), _) => (s, "InternalFailure", "Internal failure (injected)"),
        (Fault::Hang, _) => unreachable!("a hung request is answered by nobody"),
    };
    let status = StatusCode::from_u16(status).expect("a valid status");
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&request_id).unwrap(),
    );
    let body = match &call.protocol {
        Protocol::Query | Protocol::Unknown => {
            let kind = if status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
            format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            .into_bytes()
        }
        Protocol::Json(content_type) => {
            headers.insert(CONTENT_TYPE, content_type.clone());
            headers.insert("x-amzn-errortype", HeaderValue::from_static(code));
            serde_json::json!({"__type": code, "message": message})
                .to_string()
                .into_bytes()
        }
        Protocol::Cbor => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/cbor"));
            headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
            cbor_text_map(&[("__type", code), ("message", message)])
        }
    };
    build(status, headers, Full::new(Bytes::from(body)))
}

// ---------------------------------------------------------------------------------------------
// Recognizing operations, deciding what to do with them, rewriting answers

/// How a request names its operation, which decides the shape of an injected error.
#[derive(Debug, Clone)]
enum Protocol {
    /// AWS query (ELBv2, CloudWatch before JSON): form body with `Action=`.
    Query,
    /// AWS JSON 1.0/1.1 (ECS): `X-Amz-Target: Service.Operation`; carries the content type to
    /// answer with.
    Json(HeaderValue),
    /// Smithy RPC v2 CBOR: `/service/S/operation/O`.
    Cbor,
    Unknown,
}

struct Call {
    op: String,
    protocol: Protocol,
    form: Vec<(String, String)>,
}

impl Call {
    fn parse(headers: &HeaderMap, path: &str, query: Option<&str>, body: &[u8]) -> Call {
        if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
            let json = HeaderValue::from_static("application/x-amz-json-1.1");
            let content_type = headers.get(CONTENT_TYPE).cloned().unwrap_or(json);
            return Call {
                op: target.rsplit('.').next().unwrap_or(target).to_owned(),
                protocol: Protocol::Json(content_type),
                form: Vec::new(),
            };
        }
        if let Some((service, op)) = path.rsplit_once("/operation/") {
            if service.contains("/service/") && !op.is_empty() && !op.contains('/') {
                let (op, protocol, form) = (op.to_owned(), Protocol::Cbor, Vec::new());
                return Call { op, protocol, form };
            }
        }
        let is_form = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("x-www-form-urlencoded"));
        let mut form: Vec<(String, String)> = Vec::new();
        if is_form {
            form.extend(form_urlencoded::parse(body).into_owned());
        }
        // The query protocol also allows GET with the parameters in the URL.
        form.extend(form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned());
        match form
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
        {
            Some(op) => Call {
                op,
                protocol: Protocol::Query,
                form,
            },
            None => Call {
                op: String::new(),
                protocol: Protocol::Unknown,
                form,
            },
        }
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_listener_read(&self) -> bool {
        matches!(self.op.as_str(), "DescribeListeners" | "DescribeRules")
    }

    /// The decoded, sorted form: the same read from boto3 and the Rust SDK (which encode
    /// differently) shares one cache entry.
    fn cache_key(&self) -> String {
        let mut pairs: Vec<String> = self.form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        format!("{}\n{}", self.op, pairs.join("\n"))
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttle,
    Status(u16),
    /// Forwarded, then never answered.
    Hang,
}

#[derive(Default)]
struct Rules {
    /// `Some(None)`: every target group; `Some(Some(arn))`: that one.
    unhealthy: Option<Option<String>>,
    /// Per operation: the fault and how many more requests get it (`None`: all).
    faults: HashMap<String, (Fault, Option<usize>)>,
    delays: HashMap<String, Duration>,
    stale: bool,
    /// Replay listener reads from before this instant, this many more times.
    stale_before: Option<(Instant, Option<usize>)>,
}

/// What happens to one request, decided atomically when it arrives.
struct Plan {
    fault: Option<Fault>,
    unhealthy: bool,
    stale: bool,
    stale_before: Option<Instant>,
    delay: Duration,
}

impl Rules {
    fn set_fault(&mut self, op: &str, fault: Fault, times: Option<usize>) {
        if times == Some(0) {
            self.faults.remove(op);
        } else {
            self.faults.insert(op.to_owned(), (fault, times));
        }
    }

    fn plan(&mut self, call: &Call) -> Plan {
        let fault = self.faults.get_mut(&call.op).map(|(fault, remaining)| {
            if let Some(n) = remaining {
                *n -= 1;
            }
            (*fault, *remaining == Some(0))
        });
        let fault = fault.map(|(fault, used_up)| {
            if used_up {
                self.faults.remove(&call.op);
            }
            fault
        });
        let unhealthy = call.op == "DescribeTargetHealth"
            && match &self.unhealthy {
                None => false,
                Some(None) => true,
                Some(Some(arn)) => call.field("TargetGroupArn") == Some(arn.as_str()),
            };
        let mut stale_before = None;
        if call.is_listener_read() {
            if let Some((before, remaining)) = &mut self.stale_before {
                stale_before = Some(*before);
                if let Some(n) = remaining {
                    *n -= 1;
                    if *n == 0 {
                        self.stale_before = None;
                    }
                }
            }
        }
        Plan {
            fault,
            unhealthy,
            stale: self.stale,
            stale_before,
            delay: self.delays.get(&call.op).copied().unwrap_or_default(),
        }
    }
}

/// What ELBv2 reports for a target whose health check gets a 503 from the app.
const UNHEALTHY: &str = "<State>unhealthy</State><Reason>Target.ResponseCodeMismatch</Reason>\
    <Description>Health checks failed with these codes: [503]</Description>";

/// Replaces the body of every `<TargetHealth>` whose state is healthy (moto writes no Reason or
/// Description for those, but the whole element is replaced so none could be duplicated).
fn mark_unhealthy(xml: &str) -> String {
    const OPEN: &str = "<TargetHealth>";
    const CLOSE: &str = "</TargetHealth>";
    let mut out = String::with_capacity(xml.len() + 256);
    let mut rest = xml;
    while let Some(start) = rest.find(OPEN) {
        let inner = start + OPEN.len();
        let Some(len) = rest[inner..].find(CLOSE) else {
            break;
        };
        out.push_str(&rest[..inner]);
        let health = &rest[inner..inner + len];
        out.push_str(if health.contains("<State>healthy</State>") {
            UNHEALTHY
        } else {
            health
        });
        rest = &rest[inner + len..];
    }
    out.push_str(rest);
    out
}

/// The weights of the `forward` action among `{prefix}.member.N` in a query-protocol form. A
/// forward without a `ForwardConfig` (plain `TargetGroupArn`) has weight 1, as bluegreen reads
/// it; a missing `Weight` is 1 too.
fn forward_weights(form: &HashMap<String, String>, prefix: &str) -> Vec<(String, u16)> {
    let forward = (1..)
        .map_while(|n| {
            form.get(&format!("{prefix}.member.{n}.Type"))
                .map(|t| (n, t))
        })
        .find(|(_, kind)| *kind == "forward");
    let Some((n, _)) = forward else {
        return Vec::new();
    };
    let action = format!("{prefix}.member.{n}");
    let mut weights: Vec<(String, u16)> = (1..)
        .map_while(|m| {
            let tuple = format!("{action}.ForwardConfig.TargetGroups.member.{m}");
            let arn = form.get(&format!("{tuple}.TargetGroupArn"))?;
            let weight = form.get(&format!("{tuple}.Weight")).map(|w| {
                w.parse()
                    .unwrap_or_else(|_| panic!("{tuple}.Weight is not a weight: {w}"))
            });
            Some((arn.clone(), weight.unwrap_or(1)))
        })
        .collect();
    if weights.is_empty() {
        if let Some(arn) = form.get(&format!("{action}.TargetGroupArn")) {
            weights.push((arn.clone(), 1));
        }
    }
    weights
}

/// A CBOR map of short text strings: all an RPC v2 CBOR error body needs, without a CBOR crate.
fn cbor_text_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, s: &str) {
        match s.len() {
            n @ 0..=23 => out.push(0x60 | n as u8),
            n @ 24..=255 => out.extend([0x78, n as u8]),
            n => out.extend([0x79, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(s.as_bytes());
    }
    assert!(pairs.len() < 24, "a short map");
    let mut out = vec![0xa0 | pairs.len() as u8];
    for (key, value) in pairs {
        text(&mut out, key);
        text(&mut out, value);
    }
    out
}
