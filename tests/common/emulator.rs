//! One moto server per test: own process, own loopback port, own state, stopped on drop.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::observe::Aws;

const REGION: &str = "us-east-1";
const START_ATTEMPTS: usize = 5;
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the project's strict launcher (`scripts/emulator/strict_moto.py`: moto_server with the
/// patches that make it refuse what AWS refuses, docs/emulator.md), plus a watchdog thread that
/// ends the server when its parent (the test process) dies without running `Drop` (SIGKILL,
/// abort, double panic), so no emulator outlives the test run. The pid stays the server's own.
const WATCHDOG: &str = r#"
import os, runpy, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"#;

/// Ports handed to live emulators of this process: never handed out twice.
static PORTS_IN_USE: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A running moto server. Dropping it kills the process and waits for it.
pub struct Emulator {
    child: Child,
    pid: u32,
    port: u16,
    venv: PathBuf,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
    pub(super) aws: OnceLock<Aws>,
}

/// Options for [`Emulator`]: environment for the server, e.g. `MOTO_ECS_SERVICE_RUNNING`.
#[derive(Debug, Default, Clone)]
pub struct EmulatorBuilder {
    env: Vec<(String, String)>,
}

impl EmulatorBuilder {
    /// An environment variable for the moto server process (its switches are read at start).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn start(self) -> Emulator {
        let venv = venv();
        let timeout = start_timeout();
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match try_start(venv, &self.env, timeout) {
                Ok(emulator) => return emulator,
                Err(Retry(why)) => failures.push(why),
            }
        }
        panic!(
            "the emulator did not start after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }
}

impl Emulator {
    /// Starts a fresh emulator (installing the venv first, once per test process).
    pub fn start() -> Emulator {
        EmulatorBuilder::default().start()
    }

    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's log (requests and tracebacks): worth printing when a test fails oddly.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    pub fn venv(&self) -> &Path {
        &self.venv
    }

    /// What a process needs to talk to this emulator, and nothing else: dummy credentials
    /// (real ones must never be sent), the region, and the venv first on PATH because the
    /// emulator Terraform modules run `python3` with its boto3. `TF_CLI_CONFIG_FILE` is left
    /// as the caller has it (the `Bluegreen` harness adds `.bluegreen/terraform.rc`).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut path = vec![self.venv.join("bin")];
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let path = std::env::join_paths(path).expect("PATH entries contain no separator");
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            // Fail fast instead of waiting on an instance-metadata endpoint that isn't there.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("PATH", path.to_string_lossy().into_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Emulator {
    /// Runs a Python script with the venv's boto3 against this emulator and returns its stdout;
    /// panics with both streams when it fails. For setup the Rust SDK crates in this project do
    /// not cover (EC2 networks, CloudWatch `SetAlarmState` as a fault switch, ...).
    pub fn boto3(&self, script: &str) -> String {
        let mut cmd = Command::new(self.venv.join("bin").join("python"));
        remove_ambient_aws(&mut cmd);
        let out = cmd
            .arg("-c")
            .arg(script)
            .envs(self.env_vars())
            .stdin(Stdio::null())
            .output()
            .expect("run the venv's python");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            panic!(
                "boto3 script failed ({}):\n{script}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        stdout
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // SIGKILL: the emulator's state is disposable, and a prompt exit keeps tests fast.
        let _ = self.child.kill();
        let _ = self.child.wait();
        release_port(self.port);
    }
}

/// Drops the caller's `AWS_*` variables (profiles, real credentials, endpoints) from a child's
/// environment; the emulator's own are added back explicitly where needed.
fn remove_ambient_aws(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
}

struct Retry(String);

fn try_start(venv: &Path, env: &[(String, String)], timeout: Duration) -> Result<Emulator, Retry> {
    let port = reserve_port();
    let log_dir = tempfile::Builder::new()
        .prefix("bluegreen-emulator-")
        .tempdir()
        .expect("create a temp dir for the emulator log");
    let log = log_dir.path().join("moto.log");
    let log_file = File::create(&log).expect("create the emulator log");
    let mut cmd = Command::new(venv.join("bin").join("python"));
    remove_ambient_aws(&mut cmd); // moto itself uses botocore: an AWS_PROFILE breaks it
    let spawned = cmd
        .arg("-c")
        .arg(WATCHDOG)
        .arg(launcher())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("clone the log file handle"))
        .stderr(log_file)
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            release_port(port);
            panic!("cannot run {}/bin/python: {e}", venv.display());
        }
    };
    let mut emulator = Emulator {
        pid: child.id(),
        child,
        port,
        venv: venv.to_owned(),
        log,
        _log_dir: log_dir,
        aws: OnceLock::new(),
    };
    match wait_until_ready(&mut emulator, timeout) {
        Ok(()) => Ok(emulator),
        // Dropping `emulator` kills the process and releases the port.
        Err(Failure::Retry(why)) => Err(Retry(why)),
        Err(Failure::Fatal(why)) => {
            let tail = emulator.log_tail();
            drop(emulator);
            panic!("{why}\n--- emulator log (tail) ---\n{tail}");
        }
    }
}

enum Failure {
    /// Lost a port race: try again on another port.
    Retry(String),
    Fatal(String),
}

fn wait_until_ready(emulator: &mut Emulator, timeout: Duration) -> Result<(), Failure> {
    let started = Instant::now();
    let port = emulator.port;
    loop {
        if let Some(status) = emulator
            .child
            .try_wait()
            .expect("poll the emulator process")
        {
            let tail = emulator.log_tail();
            let why = format!("the emulator on port {port} exited during start ({status})");
            return if tail.contains("in use") {
                Err(Failure::Retry(why))
            } else {
                Err(Failure::Fatal(why))
            };
        }
        if answers_http(port) {
            // Another process may have taken the port between our pick and moto's bind; an
            // answer only counts if it comes from our process.
            return match owns_listening_port(emulator.pid, port) {
                Some(false) => Err(Failure::Retry(format!(
                    "port {port} is served by another process"
                ))),
                _ => Ok(()),
            };
        }
        if started.elapsed() > timeout {
            return Err(Failure::Fatal(format!(
                "the emulator did not answer on 127.0.0.1:{port} within {timeout:?} \
                 (BLUEGREEN_EMULATOR_START_TIMEOUT)"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when an HTTP server answers on the port (any status code).
fn answers_http(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

/// Whether `pid` holds the socket listening on 127.0.0.1:`port`, from /proc (Linux); `None`
/// when that cannot be told, in which case the caller trusts the answer it got.
fn owns_listening_port(pid: u32, port: u16) -> Option<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Field 3 is the state; 0A is LISTEN. Field 9 is the socket inode.
        (fields.len() > 9 && fields[1] == local && fields[3] == "0A").then(|| fields[9].to_owned())
    })?;
    let wanted = OsString::from(format!("socket:[{inode}]"));
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| target.as_os_str() == wanted)
            .unwrap_or(false)
    }))
}

fn reserve_port() -> u16 {
    let mut in_use = PORTS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("bind an ephemeral loopback port")
            .port();
        if in_use.insert(port) {
            return port;
        }
    }
}

fn release_port(port: u16) {
    PORTS_IN_USE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&port);
}

fn start_timeout() -> Duration {
    std::env::var("BLUEGREEN_EMULATOR_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_START_TIMEOUT)
}

pub(super) fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The launcher every emulator of the tests runs, as `scripts/emulator.sh start` does.
fn launcher() -> PathBuf {
    repo_root()
        .join("scripts")
        .join("emulator")
        .join("strict_moto.py")
}

/// The emulator venv (`BLUEGREEN_EMULATOR_VENV`, else `BLUEGREEN_EMULATOR_HOME/venv`, as in the
/// script), installed or found up to date by `scripts/emulator.sh install` once per test
/// process; the script serialises installs across processes. A failed install fails
/// every test that needs the emulator with the same message, without retrying.
fn venv() -> &'static Path {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let venv = VENV.get_or_init(|| {
        let root = repo_root();
        let home = match std::env::var_os("BLUEGREEN_EMULATOR_HOME") {
            Some(home) => root.join(home), // an absolute `home` replaces `root`
            None => root.join(".bluegreen").join("emulator"),
        };
        let venv = match std::env::var_os("BLUEGREEN_EMULATOR_VENV") {
            Some(venv) => root.join(venv),
            None => home.join("venv"),
        };
        let out = Command::new("bash")
            .arg(root.join("scripts").join("emulator.sh"))
            .arg("install")
            .current_dir(root)
            .env("BLUEGREEN_EMULATOR_HOME", &home)
            .env("BLUEGREEN_EMULATOR_VENV", &venv)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run bash scripts/emulator.sh install: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/emulator.sh install failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(venv)
    });
    match venv {
        Ok(path) => path,
        Err(why) => panic!("{why}"),
    }
}

pub(super) fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
