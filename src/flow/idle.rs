//! The idle color's plan: the image resolved to a digest, the saved Terraform plan, and the plan-safety check against the shared and live stacks (shared by plan, deploy, apply and rebuild).

use crate::aws::{ImageLookupError, Resolved, SdkImages};
use crate::domain::color::Color;
use crate::domain::image::ImageRef;
use crate::error::Error;
use crate::flow::context::{Ctx, StackId};
use crate::flow::outputs::SharedOutputs;
use crate::flow::planfile::ChangeLine;
use crate::iac::{
    check_redacted_plan, Finding, ForeignObjects, IacTool, PlanOutcome, RedactedPlan, SafetyPolicy,
    Stack,
};
use crate::report::Event;
use sha2::{Digest, Sha256};

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
        e @ ImageLookupError::TagMoved { .. } => Error::bad_input(
            format!("{} (--image)", e.message()),
            e.fix().unwrap_or_default().to_string(),
        ),
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
    // The plan and the two states the safety check compares it with are independent: the
    // states are read while Terraform plans (other stacks, other data dirs).
    let plan = crate::flow::provision::plan_into(ctx, &stack, StackId::Color(idle), &path, false);
    let (outcome, states) = tokio::join!(plan, foreign_states(ctx, tool, shared, live));
    let outcome = outcome?;
    let findings = findings_against(ctx, shared, live, states?, &outcome.redacted_plan)?;
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
    redacted_plan: &crate::iac::RedactedPlan,
) -> Result<Vec<Finding>, Error> {
    let states = foreign_states(ctx, tool, shared, live).await?;
    findings_against(ctx, shared, live, states, redacted_plan)
}

/// What the shared stack and the live color manage now (`show -json` of each state): the
/// objects an idle color's plan must not touch. They hold sensitive values in plain text:
/// never logged, dropped after the check.
pub struct ForeignStates {
    shared: serde_json::Value,
    live: Option<serde_json::Value>,
}

/// Reads [`ForeignStates`]: the two states side by side, one Terraform process each.
pub async fn foreign_states(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    live: Option<LiveColor>,
) -> Result<ForeignStates, Error> {
    // Every caller read the shared stack's outputs first, so its workspace is selected.
    let shared_stack = ctx.stack(tool, StackId::Shared, vec![])?;
    let live_stack = match live {
        Some(l) => Some((l, ctx.service_stack(tool, l.color, shared, "")?)),
        None => None,
    };
    // The two states are independent reads: one Terraform process each, side by side.
    let live_state = async {
        let Some((LiveColor { color: l, read }, stack)) = &live_stack else {
            return Ok(None);
        };
        let has_state = *read
            || stack
                .prepare_existing(&mut ctx.tf_progress(StackId::Color(*l)))
                .await?;
        match has_state {
            true => Ok::<_, Error>(Some(stack.state_json().await?)),
            false => Ok(None),
        }
    };
    let (shared_state, live_state) = tokio::join!(shared_stack.state_json(), live_state);
    Ok(ForeignStates {
        shared: shared_state?,
        live: live_state?,
    })
}

/// Checks a redacted plan against `states`, the production routes and the live color's
/// target group, and the environment's protected addresses.
pub fn findings_against(
    ctx: &Ctx,
    shared: &SharedOutputs,
    live: Option<LiveColor>,
    states: ForeignStates,
    redacted_plan: &RedactedPlan,
) -> Result<Vec<Finding>, Error> {
    let mut foreign = ForeignObjects::new();
    foreign.add_state("shared", &states.shared);
    let mut production: Vec<(String, String)> = shared
        .production_routes()
        .into_iter()
        .map(|arn| (arn, "a production route".to_string()))
        .collect();
    if let Some(LiveColor { color: l, .. }) = live {
        if let Some(state) = &states.live {
            foreign.add_state(l.as_str(), state);
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
    Ok(check_redacted_plan(redacted_plan, &policy)?)
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

/// sha256 of the environment file, hex.
pub fn env_file_sha256(ctx: &Ctx) -> Result<String, Error> {
    let bytes = crate::input::read(&ctx.cfg.file, crate::input::ENV_FILE_MAX)
        .map_err(|e| Error::from(crate::config::ConfigError::EnvFile { source: e }))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

pub fn artifact_error(e: crate::artifact::ArtifactError) -> Error {
    use crate::artifact::ArtifactError;
    if let ArtifactError::Random { .. } | ArtifactError::Seal { .. } = e {
        return Error::Internal(e.to_string());
    }
    Error::bad_input(e.message(), e.fix())
}
