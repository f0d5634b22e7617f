//! Runs the compiled `bluegreen` binary the way a pipeline would: no stdin, a fixed environment,
//! a hard timeout. In the style of just's `Test::new().args(..).status(n)`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::emulator::{repo_root, Emulator};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long output may keep flowing after the process exited (from anything it left behind).
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// A fresh work directory for one test (removed on drop).
pub fn temp_workdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("bluegreen-test-work-")
        .tempdir()
        .expect("create a temp work dir")
}

/// One `bluegreen` invocation, built fluently and run with [`Bluegreen::run`].
#[must_use]
pub struct Bluegreen {
    args: Vec<OsString>,
    base_env: Vec<(String, String)>,
    env: Vec<(OsString, Option<OsString>)>,
    work_dir: PathBuf,
    current_dir: PathBuf,
    timeout: Duration,
}

impl Bluegreen {
    /// Against `emulator`, with `BLUEGREEN_WORK_DIR=work_dir`, from the repository root.
    pub fn new(emulator: &Emulator, work_dir: impl AsRef<Path>) -> Bluegreen {
        Bluegreen::with_env(emulator.env_vars(), work_dir)
    }

    /// Without an emulator, for commands that must not touch AWS (`validate`, bad input): the
    /// endpoint is a closed local port, so a stray AWS call fails fast instead of reaching
    /// anything real.
    pub fn offline(work_dir: impl AsRef<Path>) -> Bluegreen {
        let env = [
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        let env = env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec();
        Bluegreen::with_env(env, work_dir)
    }

    fn with_env(base_env: Vec<(String, String)>, work_dir: impl AsRef<Path>) -> Bluegreen {
        Bluegreen {
            args: Vec::new(),
            base_env,
            env: Vec::new(),
            work_dir: work_dir.as_ref().to_owned(),
            current_dir: repo_root().to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable on top of the harness's environment.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        let value = Some(value.as_ref().to_owned());
        self.env.push((key.as_ref().to_owned(), value));
        self
    }

    /// Sends the binary's AWS calls to `url` (e.g. a [`super::FaultProxy`] in front of the
    /// emulator) instead of the emulator itself.
    pub fn endpoint(self, url: impl AsRef<OsStr>) -> Self {
        self.env("AWS_ENDPOINT_URL", url)
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Where the command runs (default: the repository root, so `--env local` resolves).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.current_dir = dir.as_ref().to_owned();
        self
    }

    /// Hard limit (default 5 min): past it the process group is killed and the test panics.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command_line(&self) -> String {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        format!("bluegreen {}", args.join(" "))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bluegreen"));
        cmd.args(&self.args)
            .current_dir(&self.current_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills Terraform and friends too.
            .process_group(0);
        // Hermetic: nothing from the developer's shell decides where bluegreen goes.
        for (key, _) in std::env::vars_os() {
            if is_ambient(&key.to_string_lossy()) {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(self.base_env.iter().map(|(k, v)| (k, v)));
        if let Some(config) = terraform_cli_config() {
            cmd.env("TF_CLI_CONFIG_FILE", config);
        }
        cmd.env("BLUEGREEN_WORK_DIR", &self.work_dir);
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Starts the command in its own process group and returns at once; stdout and stderr go
    /// to `log`. The caller owns the child (the crash test kills it).
    pub fn spawn(self, log: &Path) -> std::process::Child {
        let out = std::fs::File::create(log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let mut cmd = self.command();
        cmd.stdout(out).stderr(err);
        cmd.spawn().expect("start bluegreen")
    }

    /// Runs to completion (or the timeout) and returns what happened; never panics on a
    /// non-zero exit — use [`Outcome::assert_code`].
    pub fn run(self) -> Outcome {
        let command = self.command_line();
        let started = Instant::now();
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
        let pid = child.id();
        let stdout = Capture::start(child.stdout.take().expect("piped stdout"));
        let stderr = Capture::start(child.stderr.take().expect("piped stderr"));

        let deadline = started + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll bluegreen") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                kill_group(pid);
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout_done = stdout.wait(DRAIN_GRACE);
        let stderr_done = stderr.wait(DRAIN_GRACE);
        let drained = stdout_done && stderr_done;
        if !drained {
            // Something it started still holds the pipes open: end it, keep what we have.
            kill_group(pid);
        }
        let mut outcome = Outcome {
            command,
            pid,
            status: status.map_or(-1, exit_code),
            stdout: stdout.text(),
            stderr: stderr.text(),
            elapsed: started.elapsed(),
        };
        if !drained {
            outcome
                .stderr
                .push_str("\n[harness] processes left behind by bluegreen held its output open; killed them\n");
        }
        if status.is_none() {
            panic!(
                "{} timed out after {:?} and was killed\n{}",
                outcome.command,
                self.timeout,
                outcome.streams()
            );
        }
        outcome
    }
}

/// The Terraform CLI config the scripts write (`.bluegreen/terraform.rc`: provider mirror,
/// shared plugin cache; scripts/terraform-config.sh), when the caller's `TF_CLI_CONFIG_FILE`
/// names no existing file and the scripts have written one. A caller's existing file wins.
fn terraform_cli_config() -> Option<PathBuf> {
    if let Some(theirs) = std::env::var_os("TF_CLI_CONFIG_FILE") {
        if !theirs.is_empty() && Path::new(&theirs).is_file() {
            return None;
        }
    }
    let ours = repo_root().join(".bluegreen").join("terraform.rc");
    ours.is_file().then_some(ours)
}

/// Variables from the caller's environment that would change what bluegreen or Terraform does.
/// `TF_CLI_CONFIG_FILE` and `TF_PLUGIN_CACHE_DIR` stay: they are machine setup, not inputs.
fn is_ambient(key: &str) -> bool {
    key.starts_with("AWS_")
        || key.starts_with("BLUEGREEN_")
        || key.starts_with("TF_VAR_")
        || key.starts_with("TF_CLI_ARGS")
        || key == "TF_WORKSPACE"
        || key == "TF_DATA_DIR"
}

fn exit_code(status: ExitStatus) -> i32 {
    // Like a shell: 128 + signal for a process killed by a signal.
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Reads a pipe on its own thread, keeping what arrived so far available.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

impl Capture {
    fn start(mut pipe: impl Read + Send + 'static) -> Capture {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Capture { buf, thread }
    }

    /// True when the pipe reached EOF within `grace`.
    fn wait(&self, grace: Duration) -> bool {
        let until = Instant::now() + grace;
        while !self.thread.is_finished() {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub command: String,
    /// The process id the binary ran as (what a lock it held names).
    pub pid: u32,
    /// Exit code; 128 + signal when killed by a signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Panics, showing both streams, unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        if self.status != code {
            panic!(
                "{}: expected exit code {code}, got {}\n{}",
                self.command,
                self.status,
                self.streams()
            );
        }
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Stdout parsed as one JSON document.
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e})\n{}",
                self.command,
                self.streams()
            )
        })
    }

    /// Stdout parsed as JSON lines (one event per non-empty line).
    #[track_caller]
    pub fn stdout_json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "{}: stdout line is not JSON ({e}): {line}\n{}",
                        self.command,
                        self.streams()
                    )
                })
            })
            .collect()
    }

    fn streams(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} exited {} after {:.1?}\n{}",
            self.command,
            self.status,
            self.elapsed,
            self.streams()
        )
    }
}
