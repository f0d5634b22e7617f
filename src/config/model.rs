//! The typed, validated environment. Every path in here is absolute and every value has passed
//! validation, so the rest of the crate never re-checks it.

use crate::domain::strategy::Strategy;
pub use crate::domain::verdict::NoData;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The environment file's name inside an environment directory.
pub const ENV_FILE: &str = "bluegreen.hcl";

/// Which environment names are allowed (docs/configuration.md says the same). The name goes
/// into paths, lock and journal keys, workspace names and every message, so it is kept to
/// characters that mean nothing special in any of them.
pub const ENV_NAME_RULE: &str = "a name is 1 to 64 characters from the letters A-Z and a-z, the digits 0-9, '_', '-' and '.', and starts with a letter or a digit";

/// Variables bluegreen passes to the service root itself (`-var`), so `service.vars` may not.
pub const RESERVED_SERVICE_VARS: [&str; 4] = ["color", "image", "target_group_arn", "cluster_name"];

/// One environment: `environments/<name>/bluegreen.hcl`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvConfig {
    /// The environment's name: the file name of its directory.
    pub name: String,
    /// How a command line names this environment, for printed hints (`bluegreen resume --env
    /// …`): the name, as [`load`](super::load) sets it; the application layer replaces it with
    /// the `--env` argument as given (a path stays a path) and the `--environments-dir` and
    /// `--work-dir` flags that located it, shell-quoted.
    pub env_arg: String,
    /// Absolute environment directory.
    pub dir: PathBuf,
    /// Absolute path of `bluegreen.hcl`.
    pub file: PathBuf,
    pub region: String,
    pub iac: IacSettings,
    pub shared: StackSettings,
    pub service: ServiceSettings,
    pub state: StateSettings,
    pub health: HealthSettings,
    pub traffic: TrafficSettings,
    /// How production traffic moves (`strategy { … }`); `deploy --strategy` overrides it.
    /// Always expands to a valid schedule (checked when the file is loaded).
    pub strategy: Strategy,
    pub promotion: PromotionSettings,
    /// Where the deployment journal and the environment lock live (`journal { … }`).
    pub journal: JournalSettings,
    /// Whether production traffic waits for `bluegreen approve` (`approval { … }`).
    pub approval: ApprovalSettings,
    /// What a plan of the idle color may not do without `--allow-unsafe-plan`
    /// (`plan_safety { … }`).
    pub plan_safety: PlanSafetySettings,
}

/// The approval gate: after the idle color passed every signal with test traffic only, and
/// before any production traffic moves to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApprovalSettings {
    pub required: bool,
    /// How long a deploy waits at the gate, in the same process, for `bluegreen approve`
    /// before it exits with AWAITING_APPROVAL (10). Zero: exit at once.
    pub wait: Duration,
}

/// Plan safety (docs/plan-then-deploy.md): the idle color's plan may never touch the live
/// color's or the shared stack's objects, and never destroy or replace a protected resource,
/// unless `--allow-unsafe-plan` is given (and then it is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanSafetySettings {
    /// Resource address patterns (`*` any run of characters, `?` one), e.g.
    /// `aws_db_instance.main`, `module.data.*`.
    pub protected: Vec<String>,
}

/// Which IaC binary to run, and how long it may wait for a state lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IacSettings {
    pub binary: IacBinary,
    /// Passed as `-lock-timeout`; zero means "fail at once when the state is locked".
    pub lock_timeout: Duration,
}

impl Default for IacSettings {
    fn default() -> Self {
        IacSettings {
            binary: IacBinary::Auto,
            lock_timeout: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IacBinary {
    /// `tofu` from PATH if there is one, else `terraform`.
    Auto,
    Tofu,
    Terraform,
    /// An explicit executable; absolute (a relative one is resolved from the env directory).
    Path(PathBuf),
}

/// One Terraform root module and the inputs the environment gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSettings {
    /// Absolute, canonical root module directory (it holds at least one `.tf` file).
    pub root: PathBuf,
    /// Absolute, canonical `-var-file` paths, in the order written.
    pub var_files: Vec<PathBuf>,
    /// `-var name=value` pairs; numbers and bools were turned into their HCL spelling.
    pub vars: BTreeMap<String, String>,
}

/// The service root, applied once per color.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSettings {
    pub stack: StackSettings,
    /// Tasks per color at full size, 1..=1000.
    pub desired_count: u32,
}

/// How the three states (shared, blue, green) are kept apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    pub separation: StateSeparation,
    /// Matches `[A-Za-z0-9_-]+`; defaults to the environment name.
    pub workspace_prefix: String,
    /// `-backend-config key=value` pairs for `init`.
    pub backend_config: BTreeMap<String, String>,
    /// Set exactly when `separation` is `BackendKey`; contains `{stack}`, maybe `{env}`.
    pub key_template: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSeparation {
    /// One workspace per stack: `<prefix>-shared`, `<prefix>-blue`, `<prefix>-green`.
    Workspace,
    /// One backend key per stack, from `key_template`, in the default workspace.
    BackendKey,
}

impl StateSettings {
    /// The workspace of `stack` ("shared" | "blue" | "green"): `"{prefix}-{stack}"`.
    pub fn workspace_for(&self, stack: &str) -> String {
        format!("{}-{}", self.workspace_prefix, stack)
    }

    /// The backend key of `stack` when separation is by backend key; `None` otherwise.
    pub fn key_for(&self, env: &str, stack: &str) -> Option<String> {
        match self.separation {
            StateSeparation::Workspace => None,
            StateSeparation::BackendKey => {
                let template = self.key_template.as_deref()?;
                Some(expand_key_template(template, env, stack))
            }
        }
    }
}

/// Substitutes in one pass, so a `{stack}` inside the env name is not expanded again.
fn expand_key_template(template: &str, env: &str, stack: &str) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("{env}") {
            out.push_str(env);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{stack}") {
            out.push_str(stack);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// How long the idle color may take to become healthy, how often to look, and the signals
/// that decide whether a color is healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSettings {
    pub timeout: Duration,
    /// Greater than zero and at most `timeout`.
    pub poll_interval: Duration,
    /// ECS service stability (`ecs { no_data = … }`); always checked. No data: the service
    /// cannot be found.
    pub ecs: NoData,
    /// ALB target health of the color's target group (`target_health { no_data = … }`); always
    /// checked. No data: no target is registered.
    pub target_health: NoData,
    /// CloudWatch alarms (`alarms { names = […] }`); `None` when not configured.
    pub alarms: Option<AlarmSignal>,
    /// HTTP checks (`http "name" { … }`), in file order; names are unique.
    pub http: Vec<HttpCheck>,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(5),
            ecs: NoData::Wait,
            target_health: NoData::Wait,
            alarms: None,
            http: Vec::new(),
        }
    }
}

/// CloudWatch alarms; any alarm in ALARM fails the color.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmSignal {
    /// Alarm names; `{color}` is replaced by `blue`/`green`. Non-empty.
    pub names: Vec<String>,
    /// No data: an alarm that does not exist or is in INSUFFICIENT_DATA. Default `Fail`.
    pub no_data: NoData,
}

/// One HTTP check, usually through the test listener (which points at the new color before any
/// production traffic does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// The block label: unique, `[A-Za-z0-9_-]+`.
    pub name: String,
    /// `http://` or `https://` URL; `{color}` is replaced by `blue`/`green`.
    pub url: String,
    /// Expected status code (default 200).
    pub status: u16,
    /// The body must contain this text, when set.
    pub body_contains: Option<String>,
    /// A response slower than this fails the check (default 2s); also the request timeout.
    pub max_latency: Duration,
    /// Consecutive successes before the check first passes (default 1, at most 100). After
    /// that, one failed probe fails it.
    pub consecutive: u32,
    /// No data: no HTTP response at all (connection refused, timeout). Default `Fail`.
    pub no_data: NoData,
}

/// What happens once 100 % of production traffic is on the new color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromotionSettings {
    /// Watch every signal this long at 100 % before the deploy counts as done (default 0).
    pub bake: Duration,
    /// After the bake, wait this long before scaling the old color down (default 5m). Until
    /// then a rollback is one listener change.
    pub termination_wait: Duration,
    /// What to do with the old color after the termination wait (default scale to zero).
    pub old_color: OldColor,
}

impl Default for PromotionSettings {
    fn default() -> Self {
        PromotionSettings {
            bake: Duration::ZERO,
            termination_wait: Duration::from_secs(300),
            old_color: OldColor::ScaleDown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OldColor {
    /// Scale the old color's service to zero tasks (it stays provisioned).
    ScaleDown,
    /// Keep it at full size, so a later rollback is instant.
    KeepWarm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSettings {
    /// How long a listener change may take to read back as written; greater than zero.
    pub verify_timeout: Duration,
}

/// Where the journal and the lock live, and the lock's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSettings {
    pub backend: JournalBackend,
    /// How long a lock stays valid without renewal; the holder renews it every third of this.
    /// A crashed holder on another machine blocks the environment at most this long.
    pub lease: Duration,
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings {
            backend: JournalBackend::Local,
            lease: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalBackend {
    /// Files in the environment's work directory (one machine).
    Local,
    /// A DynamoDB table (partition key `pk`, sort key `sk`, both strings), shared by every
    /// machine that deploys the environment.
    DynamoDb { table: String },
}

impl Default for TrafficSettings {
    fn default() -> Self {
        TrafficSettings {
            verify_timeout: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(separation: StateSeparation, key_template: Option<&str>) -> StateSettings {
        StateSettings {
            separation,
            workspace_prefix: "staging".into(),
            backend_config: BTreeMap::new(),
            key_template: key_template.map(str::to_owned),
        }
    }

    #[test]
    fn workspace_is_prefix_dash_stack() {
        let s = state(StateSeparation::Workspace, None);
        assert_eq!(s.workspace_for("shared"), "staging-shared");
        assert_eq!(s.workspace_for("blue"), "staging-blue");
        assert_eq!(s.workspace_for("green"), "staging-green");
        assert_eq!(s.key_for("staging", "blue"), None);
    }

    #[test]
    fn key_template_expands_env_and_stack() {
        let s = state(
            StateSeparation::BackendKey,
            Some("bluegreen/{env}/{stack}.tfstate"),
        );
        assert_eq!(
            s.key_for("prod", "green").as_deref(),
            Some("bluegreen/prod/green.tfstate")
        );
        assert_eq!(
            s.key_for("prod", "shared").as_deref(),
            Some("bluegreen/prod/shared.tfstate")
        );
    }

    #[test]
    fn key_template_substitutes_once() {
        assert_eq!(
            expand_key_template("{env}/{stack}/{stack}", "{stack}", "blue"),
            "{stack}/blue/blue"
        );
    }

    #[test]
    fn defaults_match_the_documentation() {
        assert_eq!(HealthSettings::default().timeout, Duration::from_secs(300));
        assert_eq!(
            HealthSettings::default().poll_interval,
            Duration::from_secs(5)
        );
        assert_eq!(
            TrafficSettings::default().verify_timeout,
            Duration::from_secs(30)
        );
        assert_eq!(IacSettings::default().binary, IacBinary::Auto);
        assert_eq!(IacSettings::default().lock_timeout, Duration::ZERO);
        let health = HealthSettings::default();
        assert_eq!(
            (health.ecs, health.target_health),
            (NoData::Wait, NoData::Wait)
        );
        assert_eq!((health.alarms, health.http.len()), (None, 0));
        let promotion = PromotionSettings::default();
        assert_eq!(promotion.bake, Duration::ZERO);
        assert_eq!(promotion.termination_wait, Duration::from_secs(300));
        assert_eq!(promotion.old_color, OldColor::ScaleDown);
    }
}
