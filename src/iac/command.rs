//! OpenTofu/Terraform command lines as data.
//!
//! A [`TfCommand`] is built here and run by [`super::runner`]; tests assert on
//! the argument vectors. There is never a shell in between: each argument is
//! passed to the program as-is, so a value with spaces, quotes or `;` stays one
//! argument. OpenTofu and Terraform get exactly the same flags.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::discover::IacTool;

/// Environment variables removed from every child, because they would
/// override what bluegreen decides: a mistyped `TF_WORKSPACE` silently
/// creates an empty workspace and plans a full create, and `TF_CLI_ARGS*`
/// would add arguments (`-target`, `-refresh=false`, `-lock=false`, …) that
/// appear in no logged command. What runs is exactly the [`TfCommand`].
pub const REMOVED_ENV: &[&str] = &[
    "TF_WORKSPACE",
    "TF_CLI_ARGS",
    "TF_CLI_ARGS_init",
    "TF_CLI_ARGS_workspace",
    "TF_CLI_ARGS_plan",
    "TF_CLI_ARGS_show",
    "TF_CLI_ARGS_apply",
    "TF_CLI_ARGS_output",
    // `state pull`: Terraform joins a nested subcommand's words with `_`.
    "TF_CLI_ARGS_state_pull",
];

/// One program invocation. `env` is added to (and `env_remove` taken from)
/// the caller's environment; credentials and `AWS_*` pass through untouched.
///
/// `args` is the real argument vector, handed only to the process. Everything
/// a person or a record sees goes through `Display` (or `Debug`), which shows
/// `-var` arguments as `NAME=<redacted>`: a variable's value may be a secret
/// (`service { vars = { api_token = … } }`), and the command line ends up in
/// error messages, logs at every level and the journal.
#[derive(Clone, PartialEq, Eq)]
pub struct TfCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub env_remove: BTreeSet<String>,
}

/// What stands for a variable's value in a shown command line.
pub const REDACTED_VALUE: &str = "<redacted>";

/// The command line for messages and logs: program and arguments, quoted
/// where needed to read unambiguously, variable values replaced by
/// [`REDACTED_VALUE`]. Environment values never appear.
impl fmt::Display for TfCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(&self.program.to_string_lossy()))?;
        for arg in self.shown_args() {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

/// Like `Display`: no variable value, no environment value (only the names).
impl fmt::Debug for TfCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TfCommand")
            .field("program", &self.program)
            .field("args", &self.shown_args())
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("env_remove", &self.env_remove)
            .finish()
    }
}

impl TfCommand {
    /// The arguments as shown: quoted, and every variable value (`-var NAME=VALUE`,
    /// `-var=NAME=VALUE`) replaced by [`REDACTED_VALUE`]. Only the names are kept.
    pub fn shown_args(&self) -> Vec<String> {
        let mut shown = Vec::with_capacity(self.args.len());
        let mut value_next = false;
        for arg in &self.args {
            let assignment = if value_next {
                Some(arg.as_str())
            } else {
                arg.strip_prefix("-var=")
            };
            value_next = arg == "-var";
            if let Some(shown_arg) = backend_credential(arg) {
                shown.push(shown_arg);
                continue;
            }
            shown.push(match assignment {
                Some(assignment) => {
                    let name = assignment.split_once('=').map_or(assignment, |(n, _)| n);
                    let prefix = if arg.starts_with("-var=") {
                        "-var="
                    } else {
                        ""
                    };
                    format!("{prefix}{}={REDACTED_VALUE}", quote(name))
                }
                None => quote(arg),
            });
        }
        shown
    }
}

/// Backend settings that hold credentials (S3, azurerm, gcs, http, consul, pg …). Their
/// values are redacted in shown command lines; the others (bucket, key, region, path) stay
/// visible because they say which state an error is about.
const BACKEND_SECRETS: &[&str] = &[
    "access_key",
    "secret_key",
    "token",
    "password",
    "sas_token",
    "client_secret",
    "client_certificate_password",
    "credentials",
    "access_token",
    "encryption_key",
    "kms_encryption_key",
    "conn_str",
    "lock_password",
    "unlock_password",
];

/// `-backend-config=KEY=<redacted>` when KEY names a credential.
fn backend_credential(arg: &str) -> Option<String> {
    let (key, _) = arg.strip_prefix("-backend-config=")?.split_once('=')?;
    let secret = BACKEND_SECRETS.iter().any(|s| {
        key.eq_ignore_ascii_case(s) || key.to_ascii_lowercase().ends_with(&format!("_{s}"))
    });
    secret.then(|| format!("-backend-config={}={REDACTED_VALUE}", quote(key)))
}

fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@+%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Where one stack's Terraform runs and keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDirs {
    /// The root module (`-chdir`).
    pub root: PathBuf,
    /// `TF_DATA_DIR`: bluegreen's, never inside the module.
    pub data_dir: PathBuf,
    /// `TF_VAR_bluegreen_stack_dir`: the stack's private scratch directory.
    pub scratch_dir: PathBuf,
    /// How long a command waits for the state lock (`-lock-timeout`).
    pub lock_timeout: Duration,
}

/// Builds the commands for one stack with one tool.
#[derive(Debug, Clone)]
pub struct CommandBuilder<'a> {
    tool: &'a IacTool,
    dirs: &'a StackDirs,
    region: Option<&'a str>,
    environment: Option<&'a str>,
}

impl<'a> CommandBuilder<'a> {
    pub fn new(tool: &'a IacTool, dirs: &'a StackDirs) -> Self {
        CommandBuilder {
            tool,
            dirs,
            region: None,
            environment: None,
        }
    }

    /// Every command runs with `AWS_REGION` and `AWS_DEFAULT_REGION` set to `region`: the
    /// environment file's region is the one source of truth (docs/configuration.md, "Region").
    pub fn in_region(mut self, region: Option<&'a str>) -> Self {
        self.region = region;
        self
    }

    /// Every command runs with `TF_VAR_bluegreen_environment` set to `environment`, the
    /// environment's name: the modules derive every AWS name from it (docs/contract.md). An
    /// environment variable, not `-var`: Terraform ignores it in roots that don't declare it.
    pub fn for_environment(mut self, environment: Option<&'a str>) -> Self {
        self.environment = environment;
        self
    }

    /// `init -input=false -no-color -reconfigure -backend-config=k=v…`
    ///
    /// `-reconfigure` makes init a function of (module, backend config given
    /// now) alone: the data directory is bluegreen's cache, and whatever backend
    /// it remembers from an earlier run must neither win nor be migrated. The
    /// alternative, `-migrate-state`, would copy state between backends behind
    /// the operator's back; plain init would fail whenever the environment
    /// file's backend changed. The price: pointing the config at a new, empty
    /// backend is not an error here — the plan then creates everything, which
    /// the plan review must catch (and the journal knows the stack existed).
    pub fn init(&self, backend_config: &[(String, String)]) -> TfCommand {
        let mut args = strs(&["init", "-input=false", "-no-color", "-reconfigure"]);
        args.extend(
            backend_config
                .iter()
                .map(|(k, v)| format!("-backend-config={k}={v}")),
        );
        self.command(args)
    }

    /// `workspace select -or-create=true NAME` (Terraform ≥ 1.4, OpenTofu).
    pub fn workspace_select_or_create(&self, name: &str) -> TfCommand {
        let mut args = strs(&["workspace", "select", "-or-create=true"]);
        args.push(name.to_owned());
        self.command(args)
    }

    /// `workspace list`
    pub fn workspace_list(&self) -> TfCommand {
        self.command(strs(&["workspace", "list"]))
    }

    /// `workspace show`
    pub fn workspace_show(&self) -> TfCommand {
        self.command(strs(&["workspace", "show"]))
    }

    /// `plan -input=false -json -detailed-exitcode -lock-timeout=Ns -out=PATH -var-file=… -var k=v…`
    pub fn plan(&self, out: &Path, var_files: &[PathBuf], vars: &[(String, String)]) -> TfCommand {
        self.plan_mode(&[], out, var_files, vars)
    }

    /// `plan -destroy …` with the same flags as [`CommandBuilder::plan`]: a saved plan that
    /// destroys every resource of the stack, applied with [`CommandBuilder::apply_plan`] like
    /// any other (`rebuild` destroys the idle color this way, then plans it anew).
    pub fn plan_destroy(
        &self,
        out: &Path,
        var_files: &[PathBuf],
        vars: &[(String, String)],
    ) -> TfCommand {
        self.plan_mode(&["-destroy"], out, var_files, vars)
    }

    fn plan_mode(
        &self,
        mode: &[&str],
        out: &Path,
        var_files: &[PathBuf],
        vars: &[(String, String)],
    ) -> TfCommand {
        let mut args = strs(&["plan"]);
        args.extend(strs(mode));
        args.extend(strs(&["-input=false", "-json", "-detailed-exitcode"]));
        args.push(self.lock_timeout());
        args.push(format!("-out={}", out.display()));
        args.extend(
            var_files
                .iter()
                .map(|f| format!("-var-file={}", f.display())),
        );
        for (k, v) in vars {
            args.push("-var".to_owned());
            args.push(format!("{k}={v}"));
        }
        self.command(args)
    }

    /// `show -json PATH`
    pub fn show_plan_json(&self, plan: &Path) -> TfCommand {
        let mut args = strs(&["show", "-json"]);
        args.push(plan.display().to_string());
        self.command(args)
    }

    /// `apply -input=false -json -lock-timeout=Ns PATH` — a saved plan needs no approval.
    pub fn apply_plan(&self, plan: &Path) -> TfCommand {
        let mut args = strs(&["apply", "-input=false", "-json"]);
        args.push(self.lock_timeout());
        args.push(plan.display().to_string());
        self.command(args)
    }

    /// `output -json`
    pub fn output_json(&self) -> TfCommand {
        self.command(strs(&["output", "-json"]))
    }

    /// `state pull -no-color`: the raw state document on stdout (every value in
    /// plain text, sensitive ones included); nothing at all for a workspace
    /// that has no state yet. Run it after the workspace is selected.
    /// `-no-color` keeps errors on stderr readable as plain text.
    pub fn state_pull(&self) -> TfCommand {
        self.command(strs(&["state", "pull", "-no-color"]))
    }

    /// `show -json -no-color` without a plan file: the current state as JSON
    /// (sensitive values in plain text; `{"format_version":"1.0"}` alone when
    /// the state holds no resources). Run it after the workspace is selected.
    pub fn show_state_json(&self) -> TfCommand {
        self.command(strs(&["show", "-json", "-no-color"]))
    }

    /// Whole seconds, rounded up: Terraform waits at least as long as configured.
    fn lock_timeout(&self) -> String {
        let timeout = self.dirs.lock_timeout;
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        format!("-lock-timeout={secs}s")
    }

    fn command(&self, rest: Vec<String>) -> TfCommand {
        let mut args = Vec::with_capacity(rest.len() + 1);
        args.push(format!("-chdir={}", self.dirs.root.display()));
        args.extend(rest);
        let region = self.region.into_iter().flat_map(|r| {
            [
                ("AWS_REGION".to_owned(), r.to_owned()),
                ("AWS_DEFAULT_REGION".to_owned(), r.to_owned()),
            ]
        });
        let environment = self
            .environment
            .map(|e| ("TF_VAR_bluegreen_environment".to_owned(), e.to_owned()));
        let env = [
            ("TF_IN_AUTOMATION", "1".to_owned()),
            ("TF_INPUT", "0".to_owned()),
            ("TF_DATA_DIR", self.dirs.data_dir.display().to_string()),
            (
                "TF_VAR_bluegreen_stack_dir",
                self.dirs.scratch_dir.display().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(region)
        .chain(environment)
        .collect();
        TfCommand {
            program: self.tool.program.clone(),
            args,
            env,
            env_remove: REMOVED_ENV.iter().map(|k| (*k).to_owned()).collect(),
        }
    }
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iac::discover::IacKind;

    fn fixture() -> (IacTool, StackDirs) {
        let tool = IacTool {
            program: PathBuf::from("/usr/bin/tofu"),
            kind: IacKind::Tofu,
        };
        let dirs = StackDirs {
            root: PathBuf::from("/repo/modules/service"),
            data_dir: PathBuf::from("/work/tf/blue/data"),
            scratch_dir: PathBuf::from("/work/tf/blue/scratch"),
            lock_timeout: Duration::from_secs(90),
        };
        (tool, dirs)
    }

    fn args(cmd: &TfCommand) -> Vec<&str> {
        cmd.args.iter().map(String::as_str).collect()
    }

    #[test]
    fn every_command_sets_the_automation_environment() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        for cmd in [
            b.init(&[]),
            b.workspace_select_or_create("w"),
            b.workspace_show(),
            b.workspace_list(),
            b.plan(Path::new("p"), &[], &[]),
            b.show_plan_json(Path::new("p")),
            b.apply_plan(Path::new("p")),
            b.output_json(),
            b.state_pull(),
            b.show_state_json(),
        ] {
            assert_eq!(cmd.program, PathBuf::from("/usr/bin/tofu"));
            assert_eq!(cmd.args[0], "-chdir=/repo/modules/service");
            let env: Vec<(&str, &str)> = cmd
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                env,
                [
                    ("TF_DATA_DIR", "/work/tf/blue/data"),
                    ("TF_INPUT", "0"),
                    ("TF_IN_AUTOMATION", "1"),
                    ("TF_VAR_bluegreen_stack_dir", "/work/tf/blue/scratch"),
                ]
            );
            for removed in [
                "TF_WORKSPACE",
                "TF_CLI_ARGS",
                "TF_CLI_ARGS_plan",
                "TF_CLI_ARGS_apply",
            ] {
                assert!(cmd.env_remove.contains(removed), "{removed}: {cmd}");
            }
        }
    }

    #[test]
    fn every_command_gets_the_region_and_the_environment_name() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs)
            .in_region(Some("eu-west-1"))
            .for_environment(Some("alpha"));
        for cmd in [
            b.init(&[]),
            b.workspace_select_or_create("w"),
            b.plan(Path::new("p"), &[], &[]),
            b.apply_plan(Path::new("p")),
            b.output_json(),
            b.show_state_json(),
        ] {
            let env: Vec<(&str, &str)> = cmd
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                env,
                [
                    ("AWS_DEFAULT_REGION", "eu-west-1"),
                    ("AWS_REGION", "eu-west-1"),
                    ("TF_DATA_DIR", "/work/tf/blue/data"),
                    ("TF_INPUT", "0"),
                    ("TF_IN_AUTOMATION", "1"),
                    ("TF_VAR_bluegreen_environment", "alpha"),
                    ("TF_VAR_bluegreen_stack_dir", "/work/tf/blue/scratch"),
                ]
            );
            // An environment variable, never `-var`: roots that don't declare the variable
            // must keep working.
            assert!(!cmd.args.iter().any(|a| a.contains("bluegreen_environment")));
            // Names only: the value is not a secret, but `Debug` never shows env values.
            assert!(!format!("{cmd:?}").contains("alpha"), "{cmd:?}");
        }
    }

    #[test]
    fn init_passes_each_backend_setting_as_one_argument() {
        let (tool, dirs) = fixture();
        let cmd = CommandBuilder::new(&tool, &dirs).init(&[
            (
                "path".into(),
                "/work/tf/blue/state/terraform.tfstate".into(),
            ),
            ("key".into(), "env a/b; rm -rf \"x\"".into()),
        ]);
        assert_eq!(
            args(&cmd),
            [
                "-chdir=/repo/modules/service",
                "init",
                "-input=false",
                "-no-color",
                "-reconfigure",
                "-backend-config=path=/work/tf/blue/state/terraform.tfstate",
                "-backend-config=key=env a/b; rm -rf \"x\"",
            ]
        );
    }

    #[test]
    fn workspace_commands() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        assert_eq!(
            args(&b.workspace_select_or_create("staging-blue")),
            [
                "-chdir=/repo/modules/service",
                "workspace",
                "select",
                "-or-create=true",
                "staging-blue"
            ]
        );
        assert_eq!(
            args(&b.workspace_show()),
            ["-chdir=/repo/modules/service", "workspace", "show"]
        );
        assert_eq!(
            args(&b.workspace_list()),
            ["-chdir=/repo/modules/service", "workspace", "list"]
        );
    }

    #[test]
    fn plan_keeps_every_value_one_argument() {
        let (tool, dirs) = fixture();
        let cmd = CommandBuilder::new(&tool, &dirs).plan(
            Path::new("/work/tf/blue/plan file.tfplan"),
            &[
                PathBuf::from("/env/common.tfvars"),
                PathBuf::from("/env/blue vars.tfvars"),
            ],
            &[
                ("color".into(), "blue".into()),
                ("image".into(), "repo/app@sha256:ab cd".into()),
                ("note".into(), "it's \"quoted\"; $(echo no) `x`".into()),
            ],
        );
        assert_eq!(
            args(&cmd),
            [
                "-chdir=/repo/modules/service",
                "plan",
                "-input=false",
                "-json",
                "-detailed-exitcode",
                "-lock-timeout=90s",
                "-out=/work/tf/blue/plan file.tfplan",
                "-var-file=/env/common.tfvars",
                "-var-file=/env/blue vars.tfvars",
                "-var",
                "color=blue",
                "-var",
                "image=repo/app@sha256:ab cd",
                "-var",
                "note=it's \"quoted\"; $(echo no) `x`",
            ]
        );
    }

    #[test]
    fn plan_destroy_is_a_saved_plan_with_the_same_inputs() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        let vars = [("color".to_owned(), "green".to_owned())];
        let files = [PathBuf::from("/env/service.tfvars")];
        let cmd = b.plan_destroy(Path::new("/work/tf/green/destroy.tfplan"), &files, &vars);
        assert_eq!(
            args(&cmd),
            [
                "-chdir=/repo/modules/service",
                "plan",
                "-destroy",
                "-input=false",
                "-json",
                "-detailed-exitcode",
                "-lock-timeout=90s",
                "-out=/work/tf/green/destroy.tfplan",
                "-var-file=/env/service.tfvars",
                "-var",
                "color=green",
            ]
        );
        // Everything but the mode flag is the ordinary plan's.
        let mut plain = b.plan(Path::new("/work/tf/green/destroy.tfplan"), &files, &vars);
        plain.args.insert(2, "-destroy".into());
        assert_eq!(cmd, plain);
    }

    #[test]
    fn show_apply_and_output() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        let plan = Path::new("/work/tf/blue/p.tfplan");
        assert_eq!(
            args(&b.show_plan_json(plan)),
            [
                "-chdir=/repo/modules/service",
                "show",
                "-json",
                "/work/tf/blue/p.tfplan"
            ]
        );
        assert_eq!(
            args(&b.apply_plan(plan)),
            [
                "-chdir=/repo/modules/service",
                "apply",
                "-input=false",
                "-json",
                "-lock-timeout=90s",
                "/work/tf/blue/p.tfplan"
            ]
        );
        assert_eq!(
            args(&b.output_json()),
            ["-chdir=/repo/modules/service", "output", "-json"]
        );
    }

    #[test]
    fn state_reads() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        assert_eq!(
            args(&b.state_pull()),
            ["-chdir=/repo/modules/service", "state", "pull", "-no-color"]
        );
        // No plan file: the current state, never a saved plan.
        assert_eq!(
            args(&b.show_state_json()),
            ["-chdir=/repo/modules/service", "show", "-json", "-no-color"]
        );
        // Neither takes the lock nor needs one: no -lock-timeout.
        for cmd in [b.state_pull(), b.show_state_json()] {
            assert!(!cmd.args.iter().any(|a| a.starts_with("-lock")), "{cmd}");
        }
    }

    #[test]
    fn lock_timeout_rounds_up_to_whole_seconds() {
        let (tool, mut dirs) = fixture();
        for (timeout, want) in [
            (0, "-lock-timeout=0s"),
            (1, "-lock-timeout=1s"),
            (1_500, "-lock-timeout=2s"),
        ] {
            dirs.lock_timeout = Duration::from_millis(timeout);
            let cmd = CommandBuilder::new(&tool, &dirs).apply_plan(Path::new("p"));
            assert_eq!(cmd.args[4], want);
        }
    }

    #[test]
    fn tofu_and_terraform_get_the_same_arguments() {
        let (tofu, dirs) = fixture();
        let terraform = IacTool {
            program: PathBuf::from("/usr/local/bin/terraform"),
            kind: IacKind::Terraform,
        };
        let a = CommandBuilder::new(&tofu, &dirs).plan(Path::new("p"), &[], &[]);
        let b = CommandBuilder::new(&terraform, &dirs).plan(Path::new("p"), &[], &[]);
        assert_eq!((a.args, a.env), (b.args, b.env));
    }

    #[test]
    fn display_quotes_what_a_reader_would_misread_and_hides_env() {
        let (tool, dirs) = fixture();
        let mut cmd = CommandBuilder::new(&tool, &dirs).plan(
            Path::new("/p q/plan"),
            &[PathBuf::from("/env/blue vars.tfvars")],
            &[],
        );
        cmd.env.insert("SECRET".into(), "hunter2".into());
        cmd.env
            .insert("TF_VAR_api_token".into(), "CANARY-7f3a9e".into());
        let shown = cmd.to_string();
        assert!(shown.starts_with("/usr/bin/tofu -chdir=/repo/modules/service plan "));
        assert!(
            shown.ends_with(r"'-out=/p q/plan' '-var-file=/env/blue vars.tfvars'"),
            "{shown}"
        );
        for text in [shown, format!("{cmd:?}")] {
            assert!(
                !text.contains("hunter2") && !text.contains("CANARY"),
                "{text}"
            );
            assert!(!text.contains("/work/tf/blue/data"), "{text}");
        }
    }

    #[test]
    fn display_and_debug_show_variable_names_never_values() {
        let (tool, dirs) = fixture();
        let mut cmd = CommandBuilder::new(&tool, &dirs).plan(
            Path::new("/p"),
            &[],
            &[
                ("color".into(), "blue".into()),
                ("api_token".into(), "CANARY-7f3a9e".into()),
                ("note".into(), "a b'c=CANARY-7f3a9e".into()),
                ("empty".into(), String::new()),
            ],
        );
        // The other spelling Terraform accepts, should a command ever use it.
        cmd.args.push("-var=db_password=CANARY-7f3a9e".into());
        // The process still gets every value.
        assert!(cmd.args.contains(&"api_token=CANARY-7f3a9e".to_owned()));
        let shown = cmd.to_string();
        assert!(
            shown.ends_with(
                "-var color=<redacted> -var api_token=<redacted> -var note=<redacted> \
                 -var empty=<redacted> -var=db_password=<redacted>"
            ),
            "{shown}"
        );
        let debug = format!("{cmd:?}");
        for text in [&shown, &debug] {
            assert!(
                !text.contains("CANARY") && !text.contains("=blue"),
                "{text}"
            );
        }
        assert!(debug.contains("api_token=<redacted>"), "{debug}");
    }

    #[test]
    fn backend_credentials_are_redacted_and_the_rest_of_the_backend_config_is_shown() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        let cmd = b.init(&[
            ("bucket".into(), "tf-state".into()),
            ("secret_key".into(), "CANARY-SECRET".into()),
            ("access_key".into(), "CANARY-AKID".into()),
            ("token".into(), "CANARY-TOKEN".into()),
        ]);
        let shown = cmd.to_string();
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("-backend-config=bucket=tf-state"), "{shown}");
        assert!(
            shown.contains("-backend-config=secret_key=<redacted>"),
            "{shown}"
        );
        // The real argv is untouched.
        assert!(cmd
            .args
            .contains(&"-backend-config=secret_key=CANARY-SECRET".to_string()));
    }

    #[test]
    fn only_variable_values_are_redacted() {
        let (tool, dirs) = fixture();
        let b = CommandBuilder::new(&tool, &dirs);
        for cmd in [
            b.init(&[("path".into(), "/s/t.tfstate".into())]),
            b.workspace_select_or_create("staging-blue"),
            b.apply_plan(Path::new("/p")),
            b.plan(Path::new("/p"), &[PathBuf::from("/v.tfvars")], &[]),
        ] {
            let want: Vec<String> = cmd.args.iter().map(|a| quote(a)).collect();
            assert_eq!(cmd.shown_args(), want, "{cmd}");
        }
    }
}
