//! Runs a [`TfCommand`]: no shell, stdin closed, stdout and stderr piped.
//!
//! Success and failure come from the exit code and, for `-json` commands, the
//! diagnostics on stdout — never from stderr, which carries noise such as
//! the "Unable to open CLI configuration file" warning box on every command
//! when `TF_CLI_CONFIG_FILE` points at a missing file. Stderr is kept only as
//! a bounded, filtered tail for error messages.
//!
//! The child is always waited for and its output always drained, even when a
//! line cannot be parsed: dropping the pipes mid-apply would kill Terraform
//! with SIGPIPE and leave the state locked. For the same reason the child is
//! not killed when a future is dropped (`kill_on_drop(false)`): don't cancel
//! these futures; an operator's Ctrl-C reaches Terraform through the process
//! group and Terraform stops cleanly on its own.

use std::collections::BTreeMap;
use std::fmt;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use super::command::TfCommand;
use super::error::{truncate, IacError};
use super::stderr::{disk_full, human_diagnostics, StderrTail};
use super::ui::{
    parse_ui_line, ChangeSummary, Diagnostic, Severity, ToolVersion, UiEvent, UiMessage, UiOutput,
};

/// Characters of an unparsable stream line kept for the error message.
const BAD_LINE_CHARS: usize = 200;

/// What a `-json` command reported.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOutcome {
    pub exit_code: i32,
    /// Every diagnostic, warnings included, in stream order.
    pub diagnostics: Vec<Diagnostic>,
    /// The last `change_summary` message.
    pub change_summary: Option<ChangeSummary>,
    /// The last `outputs` message (sensitive values are never present).
    pub outputs: Option<BTreeMap<String, UiOutput>>,
    pub version: Option<ToolVersion>,
    pub stderr_tail: String,
}

/// What a plain command printed.
#[derive(Clone, PartialEq)]
pub struct Captured {
    pub exit_code: i32,
    /// Raw stdout. May hold sensitive values (`show -json`, `output -json`),
    /// so `Debug` shows only its length.
    pub stdout: Vec<u8>,
    /// Filtered, bounded tail of stderr.
    pub stderr: String,
}

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured")
            .field("exit_code", &self.exit_code)
            .field("stdout", &format_args!("<{} bytes>", self.stdout.len()))
            .field("stderr", &self.stderr)
            .finish()
    }
}

/// Runs a `-json` command, calling `on_msg` for every message of its UI
/// stream. A non-zero exit is not an error here (`plan -detailed-exitcode`
/// exits 2 on success); callers judge `exit_code` and use [`failure`].
///
/// Errors: the program cannot start; the stream declares a UI format or tool
/// version bluegreen does not support (after that, `on_msg` is not called
/// again, but the command still runs to its end — `plan` comes first, so an
/// apply never gets that far); or a line is not JSON and Terraform reported
/// no error that would explain it.
pub async fn run_streaming(
    cmd: &TfCommand,
    on_msg: &mut dyn FnMut(&UiMessage),
) -> Result<StreamOutcome, IacError> {
    let mut child = spawn(cmd)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut stream = StreamState::default();
    let read_stdout = async {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) => break,
                Ok(_) => stream.feed(&String::from_utf8_lossy(&line), on_msg),
                Err(err) => {
                    tracing::warn!(command = %cmd, "reading stdout failed: {err}");
                    break;
                }
            }
        }
    };
    let ((), stderr_tail) = tokio::join!(read_stdout, read_stderr_tail(stderr));
    let status = wait(&mut child, cmd).await?;
    stream.finish(cmd, exit_code(status), stderr_tail)
}

/// Runs a command and collects its stdout.
pub async fn run_capture(cmd: &TfCommand) -> Result<Captured, IacError> {
    let mut child = spawn(cmd)?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let read_stdout = async {
        let mut buf = Vec::new();
        if let Err(err) = stdout.read_to_end(&mut buf).await {
            tracing::warn!(command = %cmd, "reading stdout failed: {err}");
        }
        buf
    };
    let (stdout, stderr) = tokio::join!(read_stdout, read_stderr_tail(stderr));
    let status = wait(&mut child, cmd).await?;
    Ok(Captured {
        exit_code: exit_code(status),
        stdout,
        stderr,
    })
}

/// The error for a command that exited with `exit_code`: a full disk, a
/// state-lock or a stale-plan failure gets its own variant — a full disk first,
/// because it also makes Terraform report that it could not acquire the state
/// lock. Without error diagnostics from the JSON stream (commands run without
/// `-json`), errors are read from the human-readable stderr.
pub fn failure(
    cmd: &TfCommand,
    exit_code: i32,
    mut diagnostics: Vec<Diagnostic>,
    stderr_tail: String,
) -> IacError {
    if !diagnostics.iter().any(|d| d.severity == Severity::Error) {
        diagnostics.extend(human_diagnostics(&stderr_tail));
    }
    let has = |summary: &str| {
        diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.summary.contains(summary))
    };
    let command = cmd.to_string();
    if let Some(full) = disk_full(&diagnostics, &stderr_tail) {
        IacError::DiskFull {
            command,
            exit_code,
            full: Box::new(full),
            diagnostics,
            stderr_tail,
        }
    } else if has("Error acquiring the state lock") {
        IacError::StateLocked {
            command,
            exit_code,
            diagnostics,
            stderr_tail,
        }
    } else if has("Saved plan is stale") {
        IacError::StalePlan {
            command,
            exit_code,
            diagnostics,
        }
    } else {
        IacError::Failed {
            command,
            exit_code,
            diagnostics,
            stderr_tail,
        }
    }
}

fn spawn(cmd: &TfCommand) -> Result<Child, IacError> {
    let mut command = process_command(cmd);
    tracing::debug!(command = %cmd, "running");
    command.spawn().map_err(|source| IacError::Spawn {
        command: cmd.to_string(),
        source,
    })
}

pub(crate) fn process_command(cmd: &TfCommand) -> Command {
    let mut command = Command::new(&cmd.program);
    command.args(&cmd.args);
    for key in &cmd.env_remove {
        command.env_remove(key);
    }
    command
        .envs(&cmd.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    command
}

async fn wait(child: &mut Child, cmd: &TfCommand) -> Result<ExitStatus, IacError> {
    child.wait().await.map_err(|source| IacError::Spawn {
        command: cmd.to_string(),
        source,
    })
}

/// The exit code; a death by signal N is reported as 128 + N, like a shell.
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(-1)
}

async fn read_stderr_tail(stderr: impl AsyncRead + Unpin) -> String {
    let mut reader = BufReader::new(stderr);
    let mut tail = StderrTail::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => tail.push_line(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r'])),
        }
    }
    tail.finish()
}

/// Folds the UI stream into a [`StreamOutcome`].
#[derive(Default)]
struct StreamState {
    line_no: usize,
    diagnostics: Vec<Diagnostic>,
    change_summary: Option<ChangeSummary>,
    outputs: Option<BTreeMap<String, UiOutput>>,
    version: Option<ToolVersion>,
    unsupported: Option<IacError>,
    bad_line: Option<(usize, String, serde_json::Error)>,
}

impl StreamState {
    fn feed(&mut self, line: &str, on_msg: &mut dyn FnMut(&UiMessage)) {
        self.line_no += 1;
        let message = match parse_ui_line(line) {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(err) => {
                let excerpt = truncate(line.trim_end(), BAD_LINE_CHARS);
                tracing::warn!(
                    line = self.line_no,
                    "unreadable line in the -json stream: {excerpt}"
                );
                self.bad_line.get_or_insert((self.line_no, excerpt, err));
                return;
            }
        };
        if self.unsupported.is_some() {
            return;
        }
        match &message.event {
            UiEvent::Version(version) => {
                if let Err(err) = version.check() {
                    self.unsupported = Some(err);
                }
                self.version = Some(version.clone());
            }
            UiEvent::Diagnostic(d) => self.diagnostics.push(d.clone()),
            UiEvent::ChangeSummary(s) => self.change_summary = Some(*s),
            UiEvent::Outputs(o) => self.outputs = Some(o.clone()),
            _ => {}
        }
        if self.unsupported.is_none() {
            on_msg(&message);
        }
    }

    fn finish(
        self,
        cmd: &TfCommand,
        exit_code: i32,
        stderr_tail: String,
    ) -> Result<StreamOutcome, IacError> {
        if let Some(err) = self.unsupported {
            return Err(err);
        }
        let explained = self
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error);
        if let (Some((line_no, excerpt, source)), false) = (self.bad_line, explained) {
            return Err(IacError::BadJson {
                what: format!("`{cmd}`"),
                position: format!("line {line_no}"),
                excerpt: Some(excerpt),
                source,
            });
        }
        Ok(StreamOutcome {
            exit_code,
            diagnostics: self.diagnostics,
            change_summary: self.change_summary,
            outputs: self.outputs,
            version: self.version,
            stderr_tail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iac::stderr::tests::NOISE;
    use std::path::PathBuf;

    fn sh(script: &str) -> TfCommand {
        TfCommand {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: BTreeMap::new(),
            env_remove: Default::default(),
        }
    }

    #[test]
    fn failure_picks_lock_and_stale_variants_from_human_output() {
        let cmd = sh("x");
        let err = failure(
            &cmd,
            1,
            vec![],
            "Error: Error acquiring the state lock\n\nheld\n".into(),
        );
        assert!(
            matches!(err, IacError::StateLocked { exit_code: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("lock timeout"), "{err}");
        let err = failure(&cmd, 1, vec![], "Error: Saved plan is stale\n".into());
        assert!(matches!(err, IacError::StalePlan { .. }), "{err:?}");
        let err = failure(&cmd, 3, vec![], "boom\n".into());
        assert!(
            matches!(err, IacError::Failed { exit_code: 3, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("boom"));
    }

    #[test]
    fn a_full_disk_wins_over_the_state_lock_reading() {
        let cmd = sh("x");
        let lock = crate::iac::stderr::tests::lock_info_enospc();
        let err = failure(&cmd, 1, vec![lock], String::new());
        assert!(
            matches!(&err, IacError::DiskFull { exit_code: 1, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        let headline = text.lines().next().unwrap();
        assert!(headline.starts_with("the disk is full: "), "{text}");
        assert!(
            headline.ends_with(
                "could not write /w/local/state/.terraform.tfstate.lock.info (no space left on device)"
            ),
            "{text}"
        );
        let fix = text.lines().nth(1).unwrap();
        assert!(
            fix.starts_with("  fix: free space on the file system that holds /w/local/state "),
            "{text}"
        );
        assert!(fix.contains("do not `force-unlock`"), "{text}");
        // Terraform's own words stay in the detail.
        assert!(
            text.contains("Error: Error acquiring the state lock"),
            "{text}"
        );

        // Human output (commands without -json), wrapped mid-message.
        let stderr =
            "Error: Failed to save state\n\nError saving state: Failed to write state: An \
            error occured while writing the\nserialized state: write /w/s/terraform.tfstate: no \
            space left on\ndevice.\n";
        let err = failure(&cmd, 1, vec![], stderr.into());
        assert!(matches!(&err, IacError::DiskFull { .. }), "{err:?}");
        assert!(!err.to_string().contains("force-unlock"), "{err}");
    }

    #[tokio::test]
    async fn streaming_parses_lines_and_keeps_exit_code() {
        let cmd = sh(
            r#"printf '%s\n' '{"type":"version","terraform":"1.11.4","ui":"1.2"}' '{"type":"change_summary","changes":{"add":1,"change":0,"remove":0,"operation":"plan"}}'; echo noise >&2; exit 2"#,
        );
        let mut seen = Vec::new();
        let outcome = run_streaming(&cmd, &mut |m| seen.push(m.event.clone()))
            .await
            .unwrap();
        assert_eq!(outcome.exit_code, 2);
        assert_eq!(seen.len(), 2);
        assert_eq!(outcome.change_summary.unwrap().add, 1);
        assert_eq!(outcome.stderr_tail, "noise\n");
    }

    #[tokio::test]
    async fn streaming_rejects_unexplained_garbage_but_drains_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("finished");
        let cmd = sh(&format!(
            "echo 'panic: not json'; for i in $(seq 1 2000); do echo '{{\"type\":\"log\"}}'; done; touch '{}'",
            marker.display()
        ));
        let err = run_streaming(&cmd, &mut |_| {}).await.unwrap_err();
        assert!(
            matches!(&err, IacError::BadJson { position, .. } if position == "line 1"),
            "{err:?}"
        );
        assert!(err.to_string().contains("panic: not json"));
        assert!(marker.exists(), "the child must run to completion");
    }

    #[tokio::test]
    async fn streaming_stops_calling_back_after_an_unsupported_version() {
        let cmd = sh(
            r#"printf '%s\n' '{"type":"version","terraform":"1.11.4","ui":"2.0"}' '{"type":"log"}'"#,
        );
        let mut calls = 0;
        let err = run_streaming(&cmd, &mut |_| calls += 1).await.unwrap_err();
        assert!(
            matches!(err, IacError::UnsupportedVersion { .. }),
            "{err:?}"
        );
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn capture_keeps_stdout_filters_stderr_and_hides_stdout_in_debug() {
        let cmd = sh(&format!(
            "printf 'SECRET-VALUE'; printf '%s' '{NOISE}' >&2; echo real >&2; exit 5"
        ));
        let captured = run_capture(&cmd).await.unwrap();
        assert_eq!(captured.exit_code, 5);
        assert_eq!(captured.stdout, b"SECRET-VALUE");
        assert_eq!(captured.stderr, "real\n");
        assert!(!format!("{captured:?}").contains("SECRET"));
    }

    #[tokio::test]
    async fn arguments_reach_the_program_unsplit_and_tf_workspace_is_removed() {
        let mut cmd = sh(r#"printf '[%s]' "$@"; printf '<%s>' "$EXTRA""#);
        cmd.args.extend([
            "argv0".into(),
            "a b".into(),
            "c;d".into(),
            "'e'".into(),
            "$(x)".into(),
        ]);
        cmd.env.insert("EXTRA".into(), "set".into());
        cmd.env_remove.insert("TF_WORKSPACE".into());
        let command = process_command(&cmd);
        let envs: Vec<_> = command.as_std().get_envs().collect();
        assert!(
            envs.contains(&(std::ffi::OsStr::new("TF_WORKSPACE"), None)),
            "{envs:?}"
        );
        let captured = run_capture(&cmd).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&captured.stdout),
            "[a b][c;d]['e'][$(x)]<set>"
        );
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error_naming_the_command() {
        let cmd = TfCommand {
            program: PathBuf::from("/nonexistent/terraform"),
            ..sh("")
        };
        let err = run_capture(&cmd).await.unwrap_err();
        assert!(matches!(err, IacError::Spawn { .. }));
        assert!(err.to_string().contains("/nonexistent/terraform"));
    }

    #[tokio::test]
    async fn signal_death_is_128_plus_signal() {
        let captured = run_capture(&sh("kill -TERM $$")).await.unwrap();
        assert_eq!(captured.exit_code, 128 + 15);
    }
}
