//! `plan`: everything a deploy would do, decided and written down without doing any of it —
//! the image resolved to its digest, the idle color's Terraform plan (saved, and summarised
//! with sensitive values redacted), the live weights and the Terraform states it was made
//! against, the schedule, the signals and gates, the worst-case duration and the plan-safety
//! findings — sealed into one artifact (`crate::artifact`) that `bluegreen apply` carries out
//! exactly. Also the planning steps `deploy` shares: image resolution, the idle color's plan
//! and its safety check.

use super::context::{Ctx, StackId};
use crate::aws::{ImageLookupError, Resolved, SdkImages};
use crate::color::{Color, Weights};
use crate::config::OldColor;
use crate::deploy::{Schedule, ServiceOutputs, SharedOutputs, Strategy};
use crate::error::Error;
use crate::iac::{
    check_plan, Finding, ForeignObjects, IacTool, PlanOutcome, SafetyPolicy, Stack, StateMeta,
};
use crate::image::ImageRef;
use crate::report::Event;
use crate::state::journal::{Start, StepRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The artifact's body (format version 1; docs/plan-then-deploy.md documents every field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// The environment's name, and the `--env` argument the plan was made with.
    pub env: String,
    pub env_arg: String,
    /// sha256 of `bluegreen.hcl` when planned: signals, gates and timeouts come from it.
    pub env_file_sha256: String,
    pub created_at: String,
    pub created_by: String,
    pub bluegreen_version: String,
    pub image: Resolved,
    pub live_color: Option<Color>,
    pub idle_color: Color,
    /// Every production route (listener or rule) and its weights when planned.
    pub routes: Vec<RouteWeights>,
    /// The Terraform states the plan was made against (`None`: no state yet).
    pub states: States,
    /// The journal's newest deployment when planned: any later one makes the plan stale.
    pub last_deployment: Option<String>,
    pub strategy: String,
    pub schedule: Vec<StepRecord>,
    pub schedule_text: String,
    pub health_timeout_ms: u64,
    pub poll_interval_ms: u64,
    pub post_bake_ms: u64,
    pub termination_wait_ms: u64,
    pub scale_down: bool,
    pub desired: u32,
    /// Every health signal that gates the deployment.
    pub signals: Vec<String>,
    pub approval_required: bool,
    pub approval_wait_ms: u64,
    pub worst_case_ms: u64,
    pub worst_case: String,
    pub terraform: TerraformPart,
    pub safety: SafetyPart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWeights {
    pub route: String,
    pub weights: Weights,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct States {
    pub shared: Option<StateMeta>,
    pub live: Option<StateMeta>,
    pub idle: Option<StateMeta>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformPart {
    pub tool: String,
    pub version: String,
    pub has_changes: bool,
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    /// Every resource change that is not a no-op: address, action, reason.
    pub changes: Vec<ChangeLine>,
    /// `show -json` of the saved plan with every sensitive value redacted.
    pub redacted_plan: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLine {
    pub address: String,
    pub action: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyPart {
    pub protected: Vec<String>,
    pub findings: Vec<Finding>,
    /// `--allow-unsafe-plan` was given: the findings above were let through on purpose.
    pub allowed: bool,
}

/// Resolves `--image`: an ECR tag to its digest (refusing a missing image as bad input);
/// other registries pass through.
pub async fn resolve_image(ctx: &Ctx, image: &ImageRef) -> Result<Resolved, Error> {
    let conf = crate::aws::sdk_config(&ctx.cfg.region).await;
    let resolved = SdkImages::new(&conf)
        .resolve(image)
        .await
        .map_err(lookup_error)?;
    if resolved.ecr {
        ctx.info(format!(
            "image {} resolved to {}",
            resolved.requested, resolved.pinned
        ));
    }
    Ok(resolved)
}

pub fn lookup_error(e: ImageLookupError) -> Error {
    match e {
        ImageLookupError::NotFound { image, reason, fix } => Error::BadInput {
            message: format!("image `{image}` (--image): {reason}"),
            fix,
        },
        e @ ImageLookupError::TagMoved { .. } => {
            let text = e.to_string();
            let (message, fix) = text.split_once("\n  fix: ").unwrap_or((&text, ""));
            Error::bad_input(format!("{message} (--image)"), fix.to_string())
        }
        ImageLookupError::Aws(e) => Error::Aws(e),
    }
}

/// The idle color's plan, made and checked; nothing applied.
pub struct IdlePlan {
    pub stack: Stack,
    pub path: std::path::PathBuf,
    pub outcome: PlanOutcome,
    pub findings: Vec<Finding>,
}

/// Plans the idle color's stack with `image` into the work directory and checks the plan's
/// safety against the shared stack and the live color. Refuses (nothing changed) when it
/// finds something and `allow_unsafe` is not set.
#[allow(clippy::too_many_arguments)]
pub async fn plan_idle(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    live: Option<LiveColor>,
    idle: Color,
    image: &str,
    allow_unsafe: bool,
) -> Result<IdlePlan, Error> {
    let stack = ctx.service_stack(tool, idle, shared, image)?;
    stack
        .prepare(&mut ctx.tf_progress(StackId::Color(idle)))
        .await?;
    let path = ctx.plan_path(StackId::Color(idle));
    ctx.step(format!("planning {idle} with {image}"));
    let outcome = super::deploy::plan_into(ctx, &stack, StackId::Color(idle), &path, false).await?;
    let findings = safety_findings(ctx, tool, shared, live, &outcome.redacted_plan).await?;
    enforce_safety(ctx, &findings, allow_unsafe)?;
    Ok(IdlePlan {
        stack,
        path,
        outcome,
        findings,
    })
}

/// The live color, for the safety check: its target group takes production traffic, and the
/// objects its Terraform state manages belong to another stack.
#[derive(Debug, Clone, Copy)]
pub struct LiveColor {
    pub color: Color,
    /// `Ctx::color_outputs` found its outputs in this process, so its workspace is selected
    /// and its state can be read without preparing the stack again.
    pub read: bool,
}

/// Checks a redacted plan of the idle color against what the shared stack and the live
/// color own now, and the environment's protected addresses.
pub async fn safety_findings(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    live: Option<LiveColor>,
    redacted_plan: &serde_json::Value,
) -> Result<Vec<Finding>, Error> {
    let mut foreign = ForeignObjects::new();
    // Every caller read the shared stack's outputs first, so its workspace is selected.
    let shared_stack = ctx.stack(tool, StackId::Shared, vec![])?;
    foreign.add_state("shared", &shared_stack.state_json().await?);
    let mut production: Vec<(String, String)> = shared
        .production_routes()
        .into_iter()
        .map(|arn| (arn, "a production route".to_string()))
        .collect();
    if let Some(LiveColor { color: l, read }) = live {
        let live_stack = ctx.service_stack(tool, l, shared, "")?;
        let has_state = read
            || live_stack
                .prepare_existing(&mut ctx.tf_progress(StackId::Color(l)))
                .await?;
        if has_state {
            foreign.add_state(l.as_str(), &live_stack.state_json().await?);
        }
        production.push((
            shared.target_groups.of(l).to_string(),
            format!("the live color's ({l}) target group"),
        ));
    }
    let policy = SafetyPolicy {
        protected: &ctx.cfg.plan_safety.protected,
        foreign: &foreign,
        production: &production,
    };
    Ok(check_plan(redacted_plan, &policy)?)
}

/// Refuses findings unless `--allow-unsafe-plan` was given (then each is reported loudly).
pub fn enforce_safety(ctx: &Ctx, findings: &[Finding], allowed: bool) -> Result<(), Error> {
    if findings.is_empty() {
        return Ok(());
    }
    let list = findings
        .iter()
        .map(describe_finding)
        .collect::<Vec<_>>()
        .join("\n    ");
    if allowed {
        ctx.out.emit(Event::Warning {
            message: format!(
                "plan safety: {} finding(s) let through by --allow-unsafe-plan (recorded):\n    {list}",
                findings.len()
            ),
        });
        return Ok(());
    }
    Err(Error::refused(
        format!(
            "the idle color's plan is unsafe ({} finding(s)):\n    {list}",
            findings.len()
        ),
        "change the module or the environment so the plan touches only the idle color; if this \
         is intended, review it and pass --allow-unsafe-plan (its use is recorded)",
    ))
}

pub fn describe_finding(f: &Finding) -> String {
    // The rule's name as the artifact spells it (`protected-replace`, …).
    let rule = serde_json::to_value(f.rule)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    format!("{} {} [{rule}]: {}", f.action, f.address, f.detail)
}

/// Every resource change of a plan that is not a no-op or a read.
pub fn change_lines(s: &crate::iac::PlanSummary) -> Vec<ChangeLine> {
    s.resource_changes
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                crate::iac::Action::NoOp | crate::iac::Action::Read
            )
        })
        .map(|c| ChangeLine {
            address: c.address.clone(),
            action: c.action.as_str().to_string(),
            reason: c.action_reason.clone(),
        })
        .collect()
}

/// The health signals that gate a deployment, by name.
pub fn signal_names(ctx: &Ctx) -> Vec<String> {
    let h = &ctx.cfg.health;
    let mut v = vec!["ecs-service".to_string(), "target-health".to_string()];
    if let Some(a) = &h.alarms {
        v.extend(a.names.iter().map(|n| format!("alarm:{n}")));
    }
    v.extend(h.http.iter().map(|c| format!("http:{}", c.name)));
    v
}

/// sha256 of the environment file, hex.
pub fn env_file_sha256(ctx: &Ctx) -> Result<String, Error> {
    let bytes = crate::input::read(&ctx.cfg.file, crate::input::ENV_FILE_MAX)
        .map_err(|e| Error::from(crate::config::ConfigError::EnvFile { source: e }))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// `bluegreen plan`.
pub async fn run(
    ctx: &Ctx,
    env_arg: &str,
    image: &ImageRef,
    strategy: Option<Strategy>,
    out: &Path,
    allow_unsafe: bool,
) -> Result<(), Error> {
    let env = &ctx.cfg.name;
    let (strategy, schedule) = super::deploy::strategy_and_schedule(ctx, strategy)?;
    check_out_path(out)?;
    let tool = ctx.tool()?;
    let store = ctx.store().await;
    if let Some((s, _)) = store.unfinished().await? {
        return Err(Error::refused(
            format!(
                "deployment {} is unfinished (it is at: {}); a plan made now would be stale at once",
                s.id, s.step
            ),
            format!(
                "finish it first: `bluegreen resume --env {env}` or `bluegreen rollback --env {env}`"
            ),
        ));
    }
    let last_deployment = store.latest().await?.map(|s| s.id);
    let image = resolve_image(ctx, image).await?;

    ctx.step(format!("planning a deploy of {} to `{env}`", image.pinned));
    let (shared_stack, shared) = ctx.read_shared(&tool).await?;
    let Some(shared) = shared else {
        ctx.refuse_missing_state(&store, &shared_stack).await?;
        return Err(Error::refused(
            format!(
                "the shared stack has no Terraform state in {} and the journal records no \
                 deployment: there is nothing to plan against yet",
                ctx.state_location(&shared_stack)
            ),
            format!(
                "the first deploy into an empty environment is `bluegreen deploy --env {env} --image …`; \
                 if `{env}` is deployed already, {}",
                ctx.point_at_state_fix()
            ),
        ));
    };
    let aws = ctx.aws().await;
    let routes = super::shift::Routes::read_agreeing(
        &aws,
        &shared.target_groups,
        &shared.production_routes(),
    )
    .await?;
    let live = super::deploy::live_color_of(routes.primary())?;
    let Some(live) = live else {
        return Err(Error::refused(
            "no color is live yet: a first deploy is not planned",
            format!("run `bluegreen deploy --env {env} --image …` for the first deploy"),
        ));
    };
    let idle = live.other();
    let live_out: Option<ServiceOutputs> = ctx.color_outputs(&tool, live, &shared).await?;
    let planned = plan_idle(
        ctx,
        &tool,
        &shared,
        Some(LiveColor {
            color: live,
            read: live_out.is_some(),
        }),
        idle,
        &image.pinned,
        allow_unsafe,
    )
    .await?;
    let states = States {
        shared: shared_stack.state_meta().await?,
        live: match &live_out {
            Some(_) => {
                let st = ctx.service_stack(&tool, live, &shared, "")?;
                st.state_meta().await?
            }
            None => None,
        },
        idle: planned.stack.state_meta().await?,
    };
    let body = body(
        ctx,
        env_arg,
        &tool,
        image,
        (Some(live), idle),
        routes
            .before
            .iter()
            .map(|(arn, v)| RouteWeights {
                route: arn.clone(),
                weights: v.weights(),
            })
            .collect(),
        states,
        last_deployment,
        (&strategy, &schedule),
        &planned,
        allow_unsafe,
        live_out.is_some(),
    )
    .await?;

    let plan_bytes = std::fs::read(&planned.path).map_err(|e| {
        Error::Internal(format!(
            "cannot read the saved plan {}: {e}",
            planned.path.display()
        ))
    })?;
    let (key, _) =
        crate::artifact::PlanKey::load(&ctx.work.plan_key_file()).map_err(artifact_error)?;
    let value = serde_json::to_value(&body)
        .map_err(|e| Error::Internal(format!("cannot serialize the plan: {e}")))?;
    let sealed = crate::artifact::seal(&value, &plan_bytes, &key).map_err(artifact_error)?;
    write_new(out, &sealed.bytes)?;
    let human = render(&body, out, &sealed.checksum);
    ctx.out.result(
        &human,
        &PlanResult {
            outcome: "planned",
            file: out.display().to_string(),
            checksum: sealed.checksum.clone(),
            plan: &body,
        },
    );
    Ok(())
}

#[derive(Serialize)]
struct PlanResult<'a> {
    outcome: &'a str,
    file: String,
    checksum: String,
    plan: &'a PlanBody,
}

#[allow(clippy::too_many_arguments)]
async fn body(
    ctx: &Ctx,
    env_arg: &str,
    tool: &IacTool,
    image: Resolved,
    (live, idle): (Option<Color>, Color),
    routes: Vec<RouteWeights>,
    states: States,
    last_deployment: Option<String>,
    (strategy, schedule): (&Strategy, &Schedule),
    planned: &IdlePlan,
    allowed: bool,
    live_provisioned: bool,
) -> Result<PlanBody, Error> {
    let cfg = &ctx.cfg;
    let p = &cfg.promotion;
    let scale_down = p.old_color == OldColor::ScaleDown && live_provisioned;
    let (total, worst_words) = super::deploy::worst_case(ctx, schedule, scale_down);
    let s = &planned.outcome.summary;
    let me = crate::state::Holder::this_process("plan", "");
    Ok(PlanBody {
        env: cfg.name.clone(),
        env_arg: env_arg.to_string(),
        env_file_sha256: env_file_sha256(ctx)?,
        created_at: crate::state::rfc3339(crate::state::now_ms()),
        created_by: format!("{}@{}", me.user, me.host),
        bluegreen_version: env!("CARGO_PKG_VERSION").to_string(),
        image,
        live_color: live,
        idle_color: idle,
        routes,
        states,
        last_deployment,
        strategy: strategy.name().to_string(),
        schedule: Start::steps_of(schedule),
        schedule_text: schedule.to_string(),
        health_timeout_ms: cfg.health.timeout.as_millis() as u64,
        poll_interval_ms: cfg.health.poll_interval.as_millis() as u64,
        post_bake_ms: p.bake.as_millis() as u64,
        termination_wait_ms: p.termination_wait.as_millis() as u64,
        scale_down,
        desired: cfg.service.desired_count,
        signals: signal_names(ctx),
        approval_required: cfg.approval.required,
        approval_wait_ms: cfg.approval.wait.as_millis() as u64,
        worst_case_ms: total.as_millis() as u64,
        worst_case: worst_words,
        terraform: TerraformPart {
            tool: tool.program.display().to_string(),
            version: s.terraform_version.clone(),
            has_changes: planned.outcome.has_changes,
            add: s.add,
            change: s.change,
            replace: s.replace,
            destroy: s.destroy,
            changes: change_lines(s),
            redacted_plan: planned.outcome.redacted_plan.clone(),
        },
        safety: SafetyPart {
            protected: cfg.plan_safety.protected.clone(),
            findings: planned.findings.clone(),
            allowed,
        },
    })
}

/// The human summary of a plan.
pub fn render(b: &PlanBody, file: &Path, checksum: &str) -> String {
    let t = &b.terraform;
    let mut out = format!(
        "plan for environment `{}` written to {} ({checksum})\n",
        b.env,
        file.display()
    );
    let image = if b.image.requested == b.image.pinned {
        b.image.pinned.clone()
    } else {
        format!("{} → {}", b.image.requested, b.image.pinned)
    };
    out.push_str(&format!("  image:      {image}\n"));
    let mut routes: Vec<String> = Vec::new();
    for r in &b.routes {
        let w = r.weights.to_string();
        if !routes.contains(&w) {
            routes.push(w);
        }
    }
    out.push_str(&format!(
        "  colors:     live {} ({}), deploying to {}\n",
        b.live_color.map(|c| c.as_str()).unwrap_or("none"),
        routes.join("; "),
        b.idle_color
    ));
    out.push_str(&format!(
        "  terraform:  {}: {} to add, {} to change, {} to replace, {} to destroy\n",
        b.idle_color, t.add, t.change, t.replace, t.destroy
    ));
    for c in &t.changes {
        out.push_str(&format!("              {:<13} {}\n", c.action, c.address));
    }
    out.push_str(&format!(
        "  schedule:   {} ({})\n",
        b.schedule_text, b.strategy
    ));
    out.push_str(&format!("  signals:    {}\n", b.signals.join(", ")));
    out.push_str(&format!(
        "  gates:      {}\n",
        if b.approval_required {
            "approval required before production traffic (`bluegreen approve`)".to_string()
        } else {
            "none".to_string()
        }
    ));
    out.push_str(&format!("  worst case: {}\n", b.worst_case));
    if b.safety.findings.is_empty() {
        out.push_str("  safety:     the plan touches only the idle color\n");
    } else {
        out.push_str(&format!(
            "  safety:     {} finding(s) ALLOWED by --allow-unsafe-plan:\n",
            b.safety.findings.len()
        ));
        for f in &b.safety.findings {
            out.push_str(&format!("              {}\n", describe_finding(f)));
        }
    }
    out.push_str(&format!(
        "apply exactly this with: bluegreen apply {}",
        file.display()
    ));
    out
}

fn check_out_path(out: &Path) -> Result<(), Error> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::bad_input(
            format!(
                "--out {}: the directory {} does not exist",
                out.display(),
                dir.display()
            ),
            "create it, or pass a file in an existing directory",
        ));
    }
    if out.is_dir() {
        return Err(Error::bad_input(
            format!("--out {} is a directory", out.display()),
            "pass a file name, e.g. `--out plan.bluegreen.json`",
        ));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (temp file + rename), owner-only: the body shows the
/// plan's non-sensitive variable values in the clear.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp-bluegreen");
    crate::iac::write_private(&tmp, bytes)
        .map_err(|e| e.to_string())
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()))
        .map_err(|e| {
            Error::bad_input(
                format!("cannot write the plan to {}: {e}", path.display()),
                "pass a writable --out path",
            )
        })
}

pub fn artifact_error(e: crate::artifact::ArtifactError) -> Error {
    use crate::artifact::ArtifactError;
    if let ArtifactError::Random { .. } | ArtifactError::Seal { .. } = e {
        return Error::Internal(e.to_string());
    }
    let text = e.to_string();
    match text.split_once("\n  fix: ") {
        Some((message, fix)) => Error::bad_input(message.to_string(), fix.to_string()),
        None => Error::bad_input(text, "make a new plan with `bluegreen plan`"),
    }
}
