//! What every command needs: the validated environment, its work directory, the IaC tool, the
//! stacks, the AWS adapters and the reporter.

use crate::aws::{self, SdkAlarms, SdkAutoscaling, SdkServices, SdkTraffic};
use crate::cli::{Cli, EnvArg};
use crate::config::{self, EnvConfig, IacBinary, StateSeparation};
use crate::domain::color::Color;
use crate::domain::color::Weights;
use crate::domain::{ListenerView, TargetGroups, TrafficError};
use crate::error::Error;
use crate::flow::outputs::SharedOutputs;
use crate::flow::traffic::set_and_verify;
use crate::iac::{self, IacPreference, IacTool, Stack, StackDirs, UiMessage};
use crate::report::{Event, Reporter};
use crate::workdir::WorkDir;
use std::path::PathBuf;

pub struct Ctx {
    pub cfg: EnvConfig,
    pub work: WorkDir,
    pub out: Reporter,
    /// The one SDK configuration of this command (region from the environment file, bounded
    /// timeouts), loaded on first use: every AWS client and the DynamoDB store share it.
    pub sdk: tokio::sync::OnceCell<aws_config::SdkConfig>,
    /// Whether the Terraform variables bluegreen removes were reported (once per command).
    pub tf_env_reported: std::sync::Once,
}

/// The three stacks of an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackId {
    Shared,
    Color(Color),
}

impl StackId {
    pub fn name(self) -> &'static str {
        match self {
            StackId::Shared => "shared",
            StackId::Color(c) => c.as_str(),
        }
    }
}

pub struct Aws {
    pub traffic: SdkTraffic,
    pub services: SdkServices,
    pub alarms: SdkAlarms,
    pub autoscaling: SdkAutoscaling,
}

impl crate::domain::ports::Ports for Aws {
    type Traffic = SdkTraffic;
    type Services = SdkServices;
    type Alarms = SdkAlarms;

    fn traffic(&self) -> &SdkTraffic {
        &self.traffic
    }
    fn services(&self) -> &SdkServices {
        &self.services
    }
    fn alarms(&self) -> &SdkAlarms {
        &self.alarms
    }
}

impl Ctx {
    /// Resolves and validates the environment. Touches nothing: no AWS, no Terraform, no files.
    pub fn load(cli: &Cli, env: &EnvArg) -> Result<Ctx, Error> {
        let dir = config::resolve_env(&env.env, &cli.environments_dir)?;
        let mut cfg = config::load(&dir)?;
        cfg.env_arg = crate::cli::env_for_hints(cli, env);
        let work = WorkDir::new(cli.work_dir.as_deref(), &cfg.name).map_err(|e| {
            Error::bad_input(
                format!("cannot resolve the work directory: {e}"),
                "pass --work-dir DIR or set BLUEGREEN_WORK_DIR",
            )
        })?;
        if let Some(why) = work.unusable() {
            return Err(work_dir_error(cli.work_dir.as_deref(), &why));
        }
        Ok(Ctx::new(cfg, work, Reporter::new(env.output)))
    }

    /// A context for a loaded environment: nothing read or reported yet.
    pub fn new(cfg: EnvConfig, work: WorkDir, out: Reporter) -> Ctx {
        Ctx {
            cfg,
            work,
            out,
            sdk: tokio::sync::OnceCell::new(),
            tf_env_reported: std::sync::Once::new(),
        }
    }

    /// [`Ctx::load`] for a command that talks to AWS or runs Terraform: the environment file's
    /// `region` must be the only one (`config::region_conflicts`), else bad input (exit 2).
    pub fn load_for_aws(cli: &Cli, env: &EnvArg) -> Result<Ctx, Error> {
        let ctx = Ctx::load(cli, env)?;
        let vars: Vec<(&str, Option<String>)> = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .map(|name| (name, std::env::var(name).ok()))
            .collect();
        let files: Vec<_> = [&ctx.cfg.shared.var_files, &ctx.cfg.service.stack.var_files]
            .into_iter()
            .flatten()
            .map(|p| (p.clone(), config::var_file_region(p)))
            .collect();
        let conflicts = config::region_conflicts(&ctx.cfg.file, &ctx.cfg.region, &vars, &files);
        if !conflicts.is_empty() {
            return Err(Error::bad_input(
                format!(
                    "the region is set in more than one place and they disagree: {}",
                    conflicts.join("; ")
                ),
                format!(
                    "bluegreen uses the environment file's `region` for AWS and for every Terraform command: unset the others, or make them say \"{}\" (docs/configuration.md, \"Region\")",
                    ctx.cfg.region
                ),
            ));
        }
        Ok(ctx)
    }

    pub fn step(&self, message: impl Into<String>) {
        self.out.emit(Event::Step {
            message: message.into(),
        });
    }

    pub fn info(&self, message: impl Into<String>) {
        self.out.emit(Event::Info {
            message: message.into(),
        });
    }

    pub fn tool(&self) -> Result<IacTool, Error> {
        let pref = match &self.cfg.iac.binary {
            IacBinary::Auto => IacPreference::Auto,
            IacBinary::Tofu => IacPreference::Tofu,
            IacBinary::Terraform => IacPreference::Terraform,
            IacBinary::Path(p) => IacPreference::Path(p.clone()),
        };
        let tool = iac::discover(&pref)?;
        self.tf_env_reported.call_once(|| {
            let set: Vec<&str> = iac::REMOVED_ENV
                .iter()
                .copied()
                .filter(|name| std::env::var_os(name).is_some())
                .collect();
            if !set.is_empty() {
                self.out.emit(Event::Warning {
                    message: format!(
                        "ignoring {}: bluegreen chooses the workspace and every argument of each Terraform command, and runs them without these; unset them (docs/configuration.md, \"What bluegreen passes to Terraform\")",
                        set.join(", ")
                    ),
                });
            }
        });
        Ok(tool)
    }

    /// The SDK configuration, loaded once per command ([`aws::sdk_config`]).
    pub async fn sdk(&self) -> &aws_config::SdkConfig {
        self.sdk
            .get_or_init(|| aws::sdk_config(&self.cfg.region))
            .await
    }

    pub async fn aws(&self) -> Aws {
        let conf = self.sdk().await;
        Aws {
            traffic: SdkTraffic::new(conf),
            services: SdkServices::new(conf),
            alarms: SdkAlarms::new(conf),
            autoscaling: SdkAutoscaling::new(conf),
        }
    }

    /// The environment's journal and lock (local files or DynamoDB, per `journal { … }`).
    pub async fn store(&self) -> std::sync::Arc<crate::state::Store> {
        use crate::state::Store;
        std::sync::Arc::new(match &self.cfg.journal.backend {
            config::JournalBackend::Local => Store::local(self.work.path()),
            config::JournalBackend::DynamoDb { table } => {
                Store::dynamo(self.sdk().await, table, &self.cfg.name)
            }
        })
    }

    /// The stack for `id`, with its state kept apart from the other two (a workspace or a
    /// backend key per stack) and every file under the work directory.
    pub fn stack(
        &self,
        tool: &IacTool,
        id: StackId,
        vars: Vec<(String, String)>,
    ) -> Result<Stack, Error> {
        let settings = match id {
            StackId::Shared => &self.cfg.shared,
            StackId::Color(_) => &self.cfg.service.stack,
        };
        let name = id.name();
        let backend = iac::declared_backend(&settings.root)?;
        let state = &self.cfg.state;
        let mut backend_config: Vec<(String, String)> = Vec::new();
        let workspace = match state.separation {
            StateSeparation::Workspace => Some(state.workspace_for(name)),
            StateSeparation::BackendKey => None,
        };
        match backend.as_deref() {
            Some("local") => {
                // Local state goes to the work directory, never next to the module.
                let dir = self.work.state_dir();
                let file = match state.key_for(&self.cfg.name, name) {
                    Some(key) if workspace.is_none() => key.replace('/', "_"),
                    _ => format!("{name}.tfstate"),
                };
                backend_config.push(("path".into(), path_str(dir.join(file))));
                backend_config.push(("workspace_dir".into(), path_str(dir.join("workspaces"))));
            }
            Some(_) => {
                backend_config.extend(state.backend_config.iter().map(|(k, v)| (k.clone(), v.clone())));
                if let Some(key) = state.key_for(&self.cfg.name, name) {
                    backend_config.push(("key".into(), key));
                }
            }
            None => {
                return Err(Error::bad_input(
                    format!(
                        "{} declares no backend; Terraform would write its state into the module directory",
                        settings.root.display()
                    ),
                    "add `terraform { backend \"local\" {} }` (or s3, …) to the root module",
                ))
            }
        }
        let dirs = StackDirs {
            root: settings.root.clone(),
            data_dir: self.work.stack_data(name),
            scratch_dir: self.work.stack_scratch(name),
            lock_timeout: self.cfg.iac.lock_timeout,
        };
        Ok(Stack::new(
            tool.clone(),
            dirs,
            workspace,
            backend_config,
            settings.var_files.clone(),
            settings
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain(vars)
                .collect(),
        )
        .in_region(&self.cfg.region)
        .for_environment(&self.cfg.name))
    }

    /// A callback that turns Terraform's `-json` stream into progress lines.
    pub fn tf_progress(&self, stack: StackId) -> impl FnMut(&UiMessage) + '_ {
        move |m: &UiMessage| {
            if let Some(line) = crate::report::terraform_line(m) {
                self.out.emit(Event::Terraform {
                    stack: stack.name().to_string(),
                    message: line,
                });
            }
        }
    }

    /// Like [`Ctx::tf_progress`] for `apply`, which repeats the plan's `planned_change` lines
    /// already shown when the plan was made.
    pub fn tf_apply_progress(&self, stack: StackId) -> impl FnMut(&UiMessage) + '_ {
        let mut inner = self.tf_progress(stack);
        move |m: &UiMessage| {
            if !matches!(m.event, crate::iac::UiEvent::PlannedChange(_)) {
                inner(m)
            }
        }
    }

    /// Where `stack`'s Terraform state is looked for, in words: the root, the workspace, the
    /// backend and its location settings (never credentials), and the work directory.
    pub fn state_location(&self, stack: &Stack) -> String {
        let root = &stack.dirs.root;
        let backend = iac::declared_backend(root)
            .ok()
            .flatten()
            .unwrap_or_else(|| "?".into());
        // Location settings only: a backend_config may also carry credentials.
        const SHOWN: [&str; 7] = [
            "path",
            "workspace_dir",
            "bucket",
            "key",
            "prefix",
            "workspace_key_prefix",
            "region",
        ];
        let settings: Vec<String> = stack
            .backend_config
            .iter()
            .filter(|(k, _)| SHOWN.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "workspace `{}` of the `{backend}` backend{} (root {}; work directory {})",
            stack.workspace_name(),
            if settings.is_empty() {
                String::new()
            } else {
                format!(" ({})", settings.join(", "))
            },
            root.display(),
            self.work.path().display()
        )
    }

    /// What the journal says about the environment having been deployed, in words; `None`
    /// when it records no deployment at all.
    pub async fn journal_evidence(
        &self,
        store: &crate::state::Store,
    ) -> Result<Option<String>, Error> {
        let ids = store.deployments().await?;
        let Some(newest) = store.latest().await? else {
            return Ok(None);
        };
        Ok(Some(format!(
            "the journal ({}) records {} deployment(s) of `{}`, the newest {} ({}, {}, started {})",
            store.describe(),
            ids.len(),
            self.cfg.name,
            newest.id,
            newest.command,
            newest.outcome.map(|o| o.as_str()).unwrap_or("unfinished"),
            newest.started
        )))
    }

    /// Refuses (nothing changed) when the shared stack has no Terraform state here although
    /// the journal says the environment was deployed: the state is missing (another work
    /// directory, `state` block or backend), and a "first deploy" would provision the shared
    /// stack a second time next to the live one.
    pub async fn refuse_missing_state(
        &self,
        store: &crate::state::Store,
        shared: &Stack,
    ) -> Result<(), Error> {
        match self.journal_evidence(store).await? {
            None => Ok(()),
            Some(evidence) => Err(Error::refused(
                format!(
                    "{evidence}, but the shared stack has no Terraform state in {}: the state is \
                     missing, this is not a first deploy; nothing was changed",
                    self.state_location(shared)
                ),
                self.point_at_state_fix(),
            )),
        }
    }

    /// How to point bluegreen at the state an environment was deployed with.
    pub fn point_at_state_fix(&self) -> String {
        format!(
            "run with the work directory (--work-dir / BLUEGREEN_WORK_DIR; a local backend keeps \
             its state there) and the `state` block (separation, workspace_prefix, key_template, \
             backend_config) in {} that the environment was deployed with; if it was torn down \
             on purpose, move its journal aside first (docs/operations.md, \"Missing Terraform \
             state\")",
            self.cfg.file.display()
        )
    }

    /// The service stack of `color`, with the inputs bluegreen owns.
    pub fn service_stack(
        &self,
        tool: &IacTool,
        color: Color,
        shared: &SharedOutputs,
        image: &str,
    ) -> Result<Stack, Error> {
        let vars = vec![
            ("color".to_string(), color.as_str().to_string()),
            ("image".to_string(), image.to_string()),
            (
                "target_group_arn".to_string(),
                shared.target_groups.of(color).to_string(),
            ),
            ("cluster_name".to_string(), shared.cluster_name.clone()),
        ];
        self.stack(tool, StackId::Color(color), vars)
    }

    /// Writes `wanted` to `listener` (keeping the stickiness `before` had), reads the listener
    /// back until it reports exactly `wanted` or `traffic.verify_timeout` passes, and reports
    /// the verified weights. Returns the number of reads it took.
    pub async fn shift(
        &self,
        aws: &Aws,
        listener: &str,
        tgs: &TargetGroups,
        before: &ListenerView,
        wanted: Weights,
    ) -> Result<u32, TrafficError> {
        let reads = set_and_verify(
            &aws.traffic,
            listener,
            tgs,
            wanted,
            before.stickiness(),
            self.cfg.traffic.verify_timeout,
            self.verify_interval(),
        )
        .await?;
        self.out.emit(Event::WeightsVerified {
            listener: listener.to_string(),
            weights: wanted,
            reads,
        });
        Ok(reads)
    }

    /// How often a listener is read back after a change: reads are cheap and a rollback should
    /// be verified well within one health poll interval.
    pub fn verify_interval(&self) -> std::time::Duration {
        self.cfg
            .health
            .poll_interval
            .min(std::time::Duration::from_millis(500))
    }

    pub fn plan_path(&self, id: StackId) -> PathBuf {
        self.work.plans_dir().join(format!("{}.tfplan", id.name()))
    }
}

/// A work directory bluegreen could not use: names where it came from and how to fix it.
fn work_dir_error(root: Option<&std::path::Path>, why: &str) -> Error {
    let source = match root {
        Some(root) => format!(
            "the work directory given by --work-dir (or BLUEGREEN_WORK_DIR), {}",
            root.display()
        ),
        None => format!(
            "the default work directory {} (no --work-dir or BLUEGREEN_WORK_DIR given)",
            crate::workdir::DEFAULT_ROOT
        ),
    };
    Error::bad_input(
        format!("{source}, cannot be used: {why}"),
        "pass --work-dir DIR (or set BLUEGREEN_WORK_DIR) naming a directory this user may \
         create and write; bluegreen keeps each environment's files in DIR/<env>",
    )
}

fn path_str(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}
