//! The HTTP prober against tiny servers on loopback ports picked here: what a health check sees
//! for answers, errors, slow servers, dead ports, large bodies and bad certificates.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use bluegreen::health::{HttpProber, Probe};

const GENEROUS: Duration = Duration::from_secs(10);

/// What the test server does with each connection, after reading the request head.
#[derive(Clone)]
struct Reply {
    /// Sent right away: status line and headers.
    head: String,
    /// Sent after `delay`.
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn new(status: &str, body: &str) -> Reply {
        Reply::with_headers(status, "", body.as_bytes())
    }

    fn with_headers(status: &str, headers: &str, body: &[u8]) -> Reply {
        Reply {
            head: format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ),
            body: body.to_vec(),
            delay: Duration::ZERO,
        }
    }

    /// Headers at once, the body only after `delay`.
    fn body_after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// Serves `reply` to every connection, each on its own thread, until the test process ends.
/// `head_delay` holds back everything, headers included.
fn serve(reply: Reply, head_delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = reply.clone();
            thread::spawn(move || answer(stream, &reply, head_delay));
        }
    });
    addr
}

fn answer(stream: TcpStream, reply: &Reply, head_delay: Duration) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // The request head ends with an empty line; a GET has no body.
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let mut stream = reader.into_inner();
    thread::sleep(head_delay);
    let _ = stream.write_all(reply.head.as_bytes());
    let _ = stream.flush();
    thread::sleep(reply.delay);
    let _ = stream.write_all(&reply.body);
}

fn prober() -> HttpProber {
    HttpProber::new().expect("build the prober")
}

/// A loopback port nothing listens on: bound, then released.
fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

fn expect_response(probe: Probe) -> (u16, Duration, String) {
    match probe {
        Probe::Response {
            status,
            latency,
            body,
        } => (status, latency, body),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn expect_no_response(probe: Probe) -> (String, Duration) {
    match probe {
        Probe::NoResponse { error, latency } => (error, latency),
        other => panic!("expected no response, got {other:?}"),
    }
}

#[tokio::test]
async fn ok_with_body() {
    let addr = serve(Reply::new("200 OK", "{\"status\":\"up\"}"), Duration::ZERO);
    let probe = prober()
        .probe(&format!("http://{addr}/health"), GENEROUS, 1024)
        .await;
    let (status, latency, body) = expect_response(probe);
    assert_eq!(status, 200);
    assert_eq!(body, "{\"status\":\"up\"}");
    assert!(latency < GENEROUS, "{latency:?}");
}

#[tokio::test]
async fn server_error_is_a_response_with_its_status() {
    let addr = serve(
        Reply::new("500 Internal Server Error", "boom"),
        Duration::ZERO,
    );
    let probe = prober()
        .probe(&format!("http://{addr}/"), GENEROUS, 1024)
        .await;
    let (status, _, body) = expect_response(probe);
    assert_eq!((status, body.as_str()), (500, "boom"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // Following it would reach the dead port and turn the answer into "no response".
    let target = format!("http://127.0.0.1:{}/elsewhere", dead_port());
    let addr = serve(
        Reply::with_headers("302 Found", &format!("Location: {target}\r\n"), b"moved"),
        Duration::ZERO,
    );
    let probe = prober()
        .probe(&format!("http://{addr}/"), GENEROUS, 1024)
        .await;
    let (status, _, body) = expect_response(probe);
    assert_eq!((status, body.as_str()), (302, "moved"));
}

#[tokio::test]
async fn slow_headers_time_out() {
    let addr = serve(Reply::new("200 OK", "late"), Duration::from_secs(5));
    let timeout = Duration::from_millis(300);
    let probe = prober()
        .probe(&format!("http://{addr}/"), timeout, 1024)
        .await;
    let (error, latency) = expect_no_response(probe);
    assert!(error.contains("timed out after 300ms"), "{error}");
    assert!(error.contains(&format!("http://{addr}/")), "{error}");
    assert!(
        latency >= timeout && latency < Duration::from_secs(3),
        "{latency:?}"
    );
}

#[tokio::test]
async fn the_timeout_covers_the_body_too() {
    let reply = Reply::new("200 OK", "slow body").body_after(Duration::from_secs(5));
    let addr = serve(reply, Duration::ZERO);
    let timeout = Duration::from_millis(300);
    let probe = prober()
        .probe(&format!("http://{addr}/"), timeout, 1024)
        .await;
    let (error, latency) = expect_no_response(probe);
    assert!(
        error.contains("timed out after 300ms reading the body of a 200 response"),
        "{error}"
    );
    assert!(latency < Duration::from_secs(3), "{latency:?}");
}

#[tokio::test]
async fn connection_refused_is_no_response() {
    let url = format!("http://127.0.0.1:{}/", dead_port());
    let probe = prober().probe(&url, GENEROUS, 1024).await;
    let (error, _) = expect_no_response(probe);
    assert!(error.starts_with(&format!("GET {url}: ")), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

#[tokio::test]
async fn body_is_cut_at_the_limit() {
    let body: String = "0123456789".repeat(10_000);
    let addr = serve(Reply::new("200 OK", &body), Duration::ZERO);
    let probe = prober()
        .probe(&format!("http://{addr}/"), GENEROUS, 16)
        .await;
    let (status, _, got) = expect_response(probe);
    assert_eq!(status, 200);
    assert_eq!(got, "0123456789012345");
}

#[tokio::test]
async fn invalid_utf8_is_replaced_not_fatal() {
    let reply = Reply::with_headers("200 OK", "", b"ok \xff\xfe end");
    let addr = serve(reply, Duration::ZERO);
    let probe = prober()
        .probe(&format!("http://{addr}/"), GENEROUS, 1024)
        .await;
    let (_, _, body) = expect_response(probe);
    assert_eq!(body, "ok \u{fffd}\u{fffd} end");
}

#[tokio::test]
async fn credentials_in_the_url_never_reach_the_error() {
    let port = dead_port();
    let url = format!("http://alice:s3cr3t-pw@127.0.0.1:{port}/health");
    let probe = prober().probe(&url, GENEROUS, 1024).await;
    let (error, _) = expect_no_response(probe);
    assert!(!error.contains("s3cr3t-pw"), "password leaked: {error}");
    assert!(!error.contains("alice"), "user name leaked: {error}");
    assert!(
        error.contains(&format!("http://***@127.0.0.1:{port}/health")),
        "{error}"
    );
}

#[tokio::test]
async fn credentials_in_an_unparsable_url_never_reach_the_error() {
    let url = "http://alice:s3cr3t-pw@127.0.0.1:notaport/";
    let probe = prober().probe(url, GENEROUS, 1024).await;
    let (error, _) = expect_no_response(probe);
    assert!(!error.contains("s3cr3t-pw"), "password leaked: {error}");
    assert!(error.contains("http://***@127.0.0.1:notaport/"), "{error}");
}

/// `openssl s_server` with a fresh self-signed certificate; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// `None` when the `openssl` command is not installed.
    fn start() -> Option<TlsServer> {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            // An end-entity certificate, valid in every way except that nobody trusts its issuer.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match made {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot run openssl: {e}"),
            Ok(status) => assert!(status.success(), "openssl req failed ({status})"),
        }
        let port = dead_port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-www", "-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped()) // s_server stops at EOF on stdin
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        // It prints ACCEPT once it listens.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("ACCEPT") {
            line.clear();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("openssl s_server exited before listening on port {port}");
            }
        }
        thread::spawn(move || {
            let _ = out.read_to_end(&mut Vec::new());
        });
        Some(TlsServer {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn https_verifies_certificates() {
    let Some(server) = TlsServer::start() else {
        eprintln!("skipped: the `openssl` command is not installed");
        return;
    };
    let url = format!("https://127.0.0.1:{}/", server.port);
    let probe = prober().probe(&url, GENEROUS, 1024).await;
    let (error, _) = expect_no_response(probe);
    // The handshake got as far as the certificate, and its unknown issuer was refused.
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
}
