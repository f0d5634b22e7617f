//! `plan`: everything a deploy would do, decided and written down without doing any of it —
//! the image resolved to its digest, the idle color's Terraform plan (saved, and summarised
//! with sensitive values redacted), the live weights and the Terraform states it was made
//! against, the schedule, the signals and gates, the worst-case duration and the plan-safety
//! findings — sealed into one artifact (`crate::artifact`) that `bluegreen apply` carries out
//! exactly. Also the planning steps `deploy` shares: image resolution, the idle color's plan
//! and its safety check.

use crate::aws::Resolved;
use crate::config::OldColor;
use crate::domain::color::Color;
use crate::domain::image::ImageRef;
use crate::domain::{Schedule, Strategy};
use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::idle::artifact_error;
use crate::flow::idle::change_lines;
use crate::flow::idle::describe_finding;
use crate::flow::idle::env_file_sha256;
use crate::flow::idle::plan_idle;
use crate::flow::idle::resolve_image;
use crate::flow::idle::signal_names;
use crate::flow::idle::IdlePlan;
use crate::flow::idle::LiveColor;
use crate::flow::outputs::ServiceOutputs;
use crate::flow::planfile::PlanBody;
use crate::flow::planfile::RouteWeights;
use crate::flow::planfile::SafetyPart;
use crate::flow::planfile::States;
use crate::flow::planfile::TerraformPart;
use crate::iac::IacTool;
use crate::state::journal::Start;
use serde::Serialize;
use std::path::Path;

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
    let (strategy, schedule) = crate::flow::run::strategy_and_schedule(ctx, strategy)?;
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
    let routes = crate::flow::drive::Routes::read_agreeing(
        &aws,
        &shared.target_groups,
        &shared.production_routes(),
    )
    .await?;
    let live = crate::flow::run::live_color_of(routes.primary())?;
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
    let (total, worst_words) = crate::flow::run::worst_case(ctx, schedule, scale_down);
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
