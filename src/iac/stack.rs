//! One stack (a root module in one state), driven through the builder and
//! the runner: prepare, plan, apply a saved plan, read outputs and state.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backend::declared_backend;
use super::command::{CommandBuilder, StackDirs, TfCommand};
use super::discover::IacTool;
use super::error::IacError;
use super::outputs::Outputs;
use super::plan::{document_error, PlanSummary};
use super::prepared;
use super::private::{create_private, remove_if_empty, restrict};
use super::redacted::{summarized_plan_json, RedactedPlan};
use super::runner::{failure, run_capture, run_streaming, Captured, StreamOutcome};
use super::ui::{Diagnostic, UiEvent, UiMessage};

/// The workspace used when the stack names none.
pub const DEFAULT_WORKSPACE: &str = "default";

#[derive(Clone)]
pub struct Stack {
    pub tool: IacTool,
    pub dirs: StackDirs,
    /// `None` selects `default` explicitly (never whatever the data dir remembers).
    pub workspace: Option<String>,
    /// `-backend-config` pairs, e.g. `path`/`workspace_dir` for a local backend.
    pub backend_config: Vec<(String, String)>,
    pub var_files: Vec<PathBuf>,
    /// `-var` pairs (`color`, `image`, and the environment file's `vars`, which may
    /// be secrets): only their names are ever shown (`Debug`, [`TfCommand`]'s `Display`).
    pub vars: Vec<(String, String)>,
    /// The environment's region: `AWS_REGION` and `AWS_DEFAULT_REGION` of every command, so the
    /// provider (and anything the root runs) works in the region bluegreen works in.
    pub region: Option<String>,
    /// The environment's name: `TF_VAR_bluegreen_environment` of every command, from which the
    /// modules derive every AWS name (docs/contract.md).
    pub environment: Option<String>,
}

/// Variable names only: a value may be a secret.
impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("tool", &self.tool)
            .field("dirs", &self.dirs)
            .field("workspace", &self.workspace)
            .field("backend_config", &self.backend_config)
            .field("var_files", &self.var_files)
            .field(
                "vars",
                &self.vars.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("region", &self.region)
            .field("environment", &self.environment)
            .finish()
    }
}

/// Which state a stack is at: `serial` grows with every write of the state,
/// `lineage` is fixed when the state is first created. Nothing else of the
/// state document is kept (it holds every value in plain text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMeta {
    pub serial: u64,
    pub lineage: String,
}

/// State JSON (`show -json`) majors bluegreen reads.
const STATE_MAJORS: &[u64] = &[0, 1];

/// A plan that was made and read back.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// From `-detailed-exitcode`: 2 (changes, an output-only change included) or 0.
    pub has_changes: bool,
    pub summary: PlanSummary,
    /// The `show -json` document with every sensitive value redacted.
    pub redacted_plan: RedactedPlan,
    /// Warnings the plan printed (errors fail the plan).
    pub diagnostics: Vec<Diagnostic>,
}

impl Stack {
    pub fn new(
        tool: IacTool,
        dirs: StackDirs,
        workspace: Option<String>,
        backend_config: Vec<(String, String)>,
        var_files: Vec<PathBuf>,
        vars: Vec<(String, String)>,
    ) -> Stack {
        Stack {
            tool,
            dirs,
            workspace,
            backend_config,
            var_files,
            vars,
            region: None,
            environment: None,
        }
    }

    /// The same stack, every command run in `region` (see [`Stack::region`]).
    pub fn in_region(mut self, region: &str) -> Stack {
        self.region = Some(region.to_string());
        self
    }

    /// The same stack, every command told the environment's name (see [`Stack::environment`]).
    pub fn for_environment(mut self, environment: &str) -> Stack {
        self.environment = Some(environment.to_string());
        self
    }

    pub fn workspace_name(&self) -> &str {
        self.workspace.as_deref().unwrap_or(DEFAULT_WORKSPACE)
    }

    fn commands(&self) -> CommandBuilder<'_> {
        CommandBuilder::new(&self.tool, &self.dirs)
            .in_region(self.region.as_deref())
            .for_environment(self.environment.as_deref())
    }

    /// Makes the stack ready to plan: checks the root declares a backend
    /// (without one, state would land in the module directory), creates the
    /// data and scratch directories, runs `init`, selects (or creates) the
    /// workspace and verifies with `workspace show` that it is the one asked
    /// for. `TF_WORKSPACE` is removed from every child's environment, so the
    /// caller's cannot win. `on_msg` gets one `Log` message per step.
    ///
    /// A warm data dir launches nothing: `init` is skipped when the data dir was initialised
    /// for the same backend configuration and modules, the workspace commands when it still
    /// has the verified workspace selected (`prepared.rs`).
    pub async fn prepare(&self, on_msg: &mut dyn FnMut(&UiMessage)) -> Result<(), IacError> {
        let key = self.init(on_msg).await?;
        if self.workspace_verified(&key) {
            return Ok(());
        }
        self.select_workspace(on_msg).await?;
        self.mark_workspace(key);
        Ok(())
    }

    /// Like [`Stack::prepare`], but creates no workspace: `Ok(false)` when the
    /// stack's workspace does not exist yet (the stack was never applied),
    /// without touching the state. The `default` workspace always exists.
    pub async fn prepare_existing(
        &self,
        on_msg: &mut dyn FnMut(&UiMessage),
    ) -> Result<bool, IacError> {
        let key = self.init(on_msg).await?;
        if self.workspace_verified(&key) {
            return Ok(true);
        }
        let listed = checked(&self.commands().workspace_list()).await?;
        let workspace = self.workspace_name();
        let text = String::from_utf8_lossy(&listed.stdout);
        if !parse_workspace_list(&text).contains(&workspace) {
            log(on_msg, format!("Workspace {workspace} does not exist yet"));
            return Ok(false);
        }
        // `workspace list` marks the selected one: selecting it again and asking
        // `workspace show` would say what the list just said.
        if current_workspace(&text) != Some(workspace) {
            self.select_workspace(on_msg).await?;
        }
        self.mark_workspace(key);
        Ok(true)
    }

    /// Whether the data dir is initialised with `key` and still has this stack's workspace
    /// selected, as verified when the marker was written.
    fn workspace_verified(&self, key: &str) -> bool {
        let workspace = self.workspace_name();
        prepared::load(self)
            .is_some_and(|p| p.init == key && p.workspace.as_deref() == Some(workspace))
            && prepared::selected_workspace(self) == workspace
    }

    fn mark_workspace(&self, key: String) {
        let workspace = Some(self.workspace_name().to_owned());
        prepared::save(self, &prepared::Prepared::new(key, workspace));
    }

    /// `init -reconfigure`, unless the data dir was initialised for exactly this
    /// configuration ([`prepared::init_key`]). Returns the key.
    async fn init(&self, on_msg: &mut dyn FnMut(&UiMessage)) -> Result<String, IacError> {
        let root = &self.dirs.root;
        if declared_backend(root)?.is_none() {
            return Err(IacError::NoBackend { root: root.clone() });
        }
        for dir in [&self.dirs.data_dir, &self.dirs.scratch_dir] {
            std::fs::create_dir_all(dir).map_err(|source| IacError::Io {
                action: "create",
                path: dir.clone(),
                source,
            })?;
        }
        let key = prepared::init_key(self);
        let warm = prepared::load(self).is_some_and(|p| p.init == key);
        if warm && prepared::data_dir_initialised(self) {
            tracing::debug!(
                "{} already initialised for this configuration",
                root.display()
            );
            return Ok(key);
        }
        // One `init` at a time: stacks are prepared side by side, and Terraform's plugin cache
        // is not safe for concurrent installs.
        static INIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _one = INIT.lock().await;
        prepared::forget(self);
        log(on_msg, format!("Initializing {}", root.display()));
        checked(&self.commands().init(&self.backend_config)).await?;
        // `init` may have installed modules: the key covers their files too.
        let key = prepared::init_key(self);
        prepared::save(self, &prepared::Prepared::new(key.clone(), None));
        Ok(key)
    }

    async fn select_workspace(&self, on_msg: &mut dyn FnMut(&UiMessage)) -> Result<(), IacError> {
        let workspace = self.workspace_name();
        let commands = self.commands();
        log(on_msg, format!("Selecting workspace {workspace}"));
        checked(&commands.workspace_select_or_create(workspace)).await?;
        let show = commands.workspace_show();
        let shown = checked(&show).await?;
        let actual = String::from_utf8_lossy(&shown.stdout).trim().to_owned();
        if actual != workspace {
            return Err(IacError::WorkspaceMismatch {
                command: show.to_string(),
                expected: workspace.to_owned(),
                actual,
            });
        }
        Ok(())
    }

    /// Plans into `out` and reads the plan back with `show -json`.
    pub async fn plan(
        &self,
        out: &Path,
        on_msg: &mut dyn FnMut(&UiMessage),
    ) -> Result<PlanOutcome, IacError> {
        let cmd = self.commands().plan(out, &self.var_files, &self.vars);
        self.run_plan(&cmd, out, on_msg).await
    }

    /// Plans the destruction of every resource of the stack into `out` (`plan -destroy`) and
    /// reads it back; apply it with [`Stack::apply`], exactly like any saved plan.
    pub async fn plan_destroy(
        &self,
        out: &Path,
        on_msg: &mut dyn FnMut(&UiMessage),
    ) -> Result<PlanOutcome, IacError> {
        let cmd = self
            .commands()
            .plan_destroy(out, &self.var_files, &self.vars);
        self.run_plan(&cmd, out, on_msg).await
    }

    async fn run_plan(
        &self,
        cmd: &TfCommand,
        out: &Path,
        on_msg: &mut dyn FnMut(&UiMessage),
    ) -> Result<PlanOutcome, IacError> {
        // The plan file holds every variable value: owner-only before Terraform writes it.
        create_private(out)?;
        let outcome = match run_streaming(cmd, on_msg).await {
            Ok(outcome) => outcome,
            Err(err) => {
                remove_if_empty(out);
                return Err(err);
            }
        };
        let has_changes = match outcome.exit_code {
            0 => false,
            2 => true,
            code => {
                remove_if_empty(out);
                return Err(failure(cmd, code, outcome.diagnostics, outcome.stderr_tail));
            }
        };
        restrict(out)?;
        if std::fs::metadata(out).is_ok_and(|m| m.len() == 0) {
            remove_if_empty(out);
            return Err(IacError::EmptyPlanFile {
                command: cmd.to_string(),
                exit_code: outcome.exit_code,
                path: out.to_path_buf(),
            });
        }
        let (summary, redacted_plan) = self.show_plan(out).await?;
        Ok(PlanOutcome {
            has_changes,
            summary,
            redacted_plan,
            diagnostics: outcome.diagnostics,
        })
    }

    /// Reads a saved plan back with `show -json`: its summary and the redacted document. Fails
    /// when this Terraform cannot read the plan (another version made it).
    pub async fn show_plan(&self, plan: &Path) -> Result<(PlanSummary, RedactedPlan), IacError> {
        let shown = checked(&self.commands().show_plan_json(plan)).await?;
        summarized_plan_json(&shown.stdout)
    }

    /// Applies exactly the saved plan. A plan made before the state changed
    /// fails with [`IacError::StalePlan`], a held lock with [`IacError::StateLocked`].
    pub async fn apply(
        &self,
        plan: &Path,
        on_msg: &mut dyn FnMut(&UiMessage),
    ) -> Result<StreamOutcome, IacError> {
        let cmd = self.commands().apply_plan(plan);
        let outcome = run_streaming(&cmd, on_msg).await?;
        if outcome.exit_code != 0 {
            return Err(failure(
                &cmd,
                outcome.exit_code,
                outcome.diagnostics,
                outcome.stderr_tail,
            ));
        }
        Ok(outcome)
    }

    /// The stack's outputs (sensitive ones included; see [`Outputs`]).
    pub async fn outputs(&self) -> Result<Outputs, IacError> {
        let captured = checked(&self.commands().output_json()).await?;
        Outputs::from_json(&captured.stdout)
    }

    /// The stack's outputs together with the state they come from, in one `state pull` (the
    /// state document holds the root outputs in `output -json`'s shape): `(None, empty)` when
    /// the workspace has no state yet. Sensitive values are kept, as in [`Stack::outputs`];
    /// the rest of the document is parsed past and dropped.
    pub async fn state_outputs(&self) -> Result<(Option<StateMeta>, Outputs), IacError> {
        let captured = checked(&self.commands().state_pull()).await?;
        parse_state_outputs(&captured.stdout)
    }

    /// Serial and lineage of a `local` backend's state, read from its file without
    /// Terraform; `None` for any other backend or an unreadable file (ask Terraform then).
    pub fn local_state_meta(&self) -> Option<Option<StateMeta>> {
        prepared::local_state_meta(self)
    }

    /// `state pull`: the serial and lineage of the stack's current state.
    /// `Ok(None)` when the workspace has no state yet: Terraform 1.11 prints
    /// nothing at all then (exit 0). A state whose resources were all
    /// destroyed still exists (its serial and lineage go on) and is `Some`.
    /// The rest of the document holds every value in plain text, sensitive
    /// ones included: it is parsed past and dropped, never logged or kept.
    /// Call after [`Stack::prepare`] or [`Stack::prepare_existing`].
    pub async fn state_meta(&self) -> Result<Option<StateMeta>, IacError> {
        let captured = checked(&self.commands().state_pull()).await?;
        parse_state_meta(&captured.stdout)
    }

    /// `show -json` without a plan file: the current state as JSON, for
    /// [`super::ForeignObjects::add_state`]. It holds sensitive values in plain
    /// text: never log it. A workspace without state (or without resources)
    /// gives `{"format_version":"1.0"}` and nothing else.
    /// Call after [`Stack::prepare`] or [`Stack::prepare_existing`].
    pub async fn state_json(&self) -> Result<Value, IacError> {
        let captured = checked(&self.commands().show_state_json()).await?;
        let state: Value = serde_json::from_slice(&captured.stdout)
            .map_err(|source| document_error("`show -json` state", source))?;
        let version = state
            .get("format_version")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u64>().ok());
        if !major.is_some_and(|m| STATE_MAJORS.contains(&m)) {
            return Err(IacError::UnsupportedVersion {
                what: "state JSON format",
                found: version.to_owned(),
                supported: "0.x and 1.x",
            });
        }
        Ok(state)
    }
}

/// Runs a plain command; a non-zero exit is an error.
async fn checked(cmd: &TfCommand) -> Result<Captured, IacError> {
    let captured = run_capture(cmd).await?;
    if captured.exit_code != 0 {
        return Err(failure(
            cmd,
            captured.exit_code,
            Vec::new(),
            captured.stderr,
        ));
    }
    Ok(captured)
}

/// `state pull` output → [`StateMeta`]; empty output (no state yet) → `None`.
/// Only `serial` and `lineage` are deserialized; serde skips every other field
/// without building it.
fn parse_state_meta(stdout: &[u8]) -> Result<Option<StateMeta>, IacError> {
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<StateMeta>(stdout)
        .map(Some)
        .map_err(|source| document_error("`state pull` state", source))
}

/// `state pull` output → its meta and root outputs; empty output (no state yet) → nothing.
fn parse_state_outputs(stdout: &[u8]) -> Result<(Option<StateMeta>, Outputs), IacError> {
    #[derive(Deserialize)]
    struct Pulled {
        serial: u64,
        lineage: String,
        #[serde(default)]
        outputs: Outputs,
    }
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, Outputs::default()));
    }
    let pulled: Pulled = serde_json::from_slice(stdout)
        .map_err(|source| document_error("`state pull` state", source))?;
    let meta = StateMeta {
        serial: pulled.serial,
        lineage: pulled.lineage,
    };
    Ok((Some(meta), pulled.outputs))
}

/// The workspace `workspace list` marks with `*`.
fn current_workspace(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix('*'))
        .map(str::trim)
}

/// Workspace names from `workspace list` (`* current`, `  other`).
fn parse_workspace_list(text: &str) -> Vec<&str> {
    text.lines()
        .map(|line| line.trim().trim_start_matches('*').trim())
        .filter(|name| !name.is_empty())
        .collect()
}

fn log(on_msg: &mut dyn FnMut(&UiMessage), message: String) {
    tracing::info!("{message}");
    on_msg(&UiMessage {
        level: "info".to_owned(),
        message,
        timestamp: String::new(),
        event: UiEvent::Log,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack whose "terraform" is `script` (sh), run on a plan into `<dir>/blue.tfplan`.
    #[cfg(unix)]
    async fn plan_with(
        script: &str,
    ) -> (tempfile::TempDir, PathBuf, Result<PlanOutcome, IacError>) {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("terraform");
        std::fs::write(&program, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let stack = Stack::new(
            IacTool {
                program,
                kind: super::super::discover::IacKind::Terraform,
            },
            StackDirs {
                root: dir.path().to_path_buf(),
                data_dir: dir.path().join("data"),
                scratch_dir: dir.path().join("scratch"),
                lock_timeout: std::time::Duration::ZERO,
            },
            None,
            vec![],
            vec![],
            vec![("api_token".into(), "CANARY-7f3a9e".into())],
        );
        let out = dir.path().join("blue.tfplan");
        let result = stack.plan(&out, &mut |_| {}).await;
        (dir, out, result)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn saved_plans_are_owner_only_and_an_empty_one_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        // Writes the plan as Terraform does (open with truncation), then fails to read it back.
        let writes = r#"for a in "$@"; do case "$a" in -out=*) printf plan > "${a#-out=}";; esac; done
case "$1 $2" in *show*) exit 1;; esac; exit 2"#;
        let (_dir, out, result) = plan_with(writes).await;
        assert!(result.is_err(), "show fails in this fake");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // "Success" without a written plan: what a full disk does to `plan -out`.
        let (_dir, out, result) = plan_with("exit 2").await;
        let err = result.unwrap_err();
        assert!(
            matches!(&err, IacError::EmptyPlanFile { exit_code: 2, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("is empty: the disk holding it is probably full"),
            "{text}"
        );
        assert!(
            text.contains("-var api_token=<redacted>") && !text.contains("CANARY"),
            "{text}"
        );
        assert!(!out.exists(), "the empty plan is removed");

        // A failed plan leaves no empty file behind.
        let (_dir, out, result) = plan_with("exit 1").await;
        assert!(matches!(result, Err(IacError::Failed { exit_code: 1, .. })));
        assert!(!out.exists());
    }

    #[test]
    fn state_meta_keeps_serial_and_lineage_only() {
        assert_eq!(parse_state_meta(b"").unwrap(), None);
        assert_eq!(parse_state_meta(b" \n").unwrap(), None);
        let doc = br#"{"version": 4, "terraform_version": "1.11.4", "serial": 7,
            "lineage": "b61dd405-58fe-a53c-29fe-cd291f3c9a27", "outputs": {"pw": {"value": "hunter2",
            "type": "string", "sensitive": true}}, "resources": [], "check_results": null}"#;
        let meta = parse_state_meta(doc).unwrap().unwrap();
        assert_eq!(
            meta,
            StateMeta {
                serial: 7,
                lineage: "b61dd405-58fe-a53c-29fe-cd291f3c9a27".into()
            }
        );
        assert!(!format!("{meta:?}").contains("hunter2"));
    }

    #[test]
    fn unreadable_state_reports_position_not_content() {
        let err = parse_state_meta(br#"{"serial": 1, "lineage": "x", "pw": hunter2}"#).unwrap_err();
        assert!(err.to_string().contains("line 1, column"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err =
            parse_state_meta(br#"{"lineage": "x", "outputs": {"pw": "hunter2"}}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn workspace_list_marks_the_current_one() {
        assert_eq!(
            parse_workspace_list("  default\n* staging-blue\n  staging-green\n\n"),
            ["default", "staging-blue", "staging-green"]
        );
    }
}
