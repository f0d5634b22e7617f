//! `plan`: everything a deploy would do, decided and written down without doing any of it —
//! the image resolved to its digest, the idle color's Terraform plan (saved, and summarised
//! with sensitive values redacted), the live weights and the Terraform states it was made
//! against, the schedule, the signals and gates, the worst-case duration and the plan-safety
//! findings — sealed into one artifact (`crate::artifact`) that `bluegreen apply` carries out
//! exactly. Also the planning steps `deploy` shares: image resolution, the idle color's plan
//! and its safety check.

use crate::artifact::ArtifactError;
use crate::aws::Resolved;
use crate::domain::color::Color;
use crate::domain::image::ImageRef;
use crate::domain::{DeploymentSpec, ListenerView, Strategy};
use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::drive::Routes;
use crate::flow::idle::{
    artifact_error, change_lines, describe_finding, env_file_sha256, plan_idle, resolve_image,
    IdlePlan, LiveColor,
};
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::planfile::{PlanBody, RouteWeights, SafetyPart, States, TerraformPart};
use crate::flow::run::{live_color_of, strategy_and_schedule};
use crate::flow::spec::{deployment_spec, Source, Today};
use crate::iac::{IacTool, Stack};
use crate::state::Store;
use serde::Serialize;
use std::fs::File;
use std::io::BufWriter;
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
    let (strategy, _) = strategy_and_schedule(ctx, strategy)?;
    check_out_path(out)?;
    let tool = ctx.tool()?;
    let store = ctx.store().await;
    let last_deployment = newest_finished(ctx, &store).await?;
    let image = resolve_image(ctx, image).await?;
    ctx.step(format!(
        "planning a deploy of {} to `{}`",
        image.pinned, ctx.cfg.name
    ));
    let (shared_stack, shared) = read_shared(ctx, &tool, &store).await?;
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let routes = Routes::read_agreeing(&aws, tgs, &shared.production_routes()).await?;
    let live = live_or_refuse(ctx, routes.primary())?;
    let idle = live.other();
    let live_out: Option<ServiceOutputs> = ctx.color_outputs(&tool, live, &shared).await?;
    let read = live_out.is_some();
    let live_color = Some(LiveColor { color: live, read });
    let planned = plan_idle(
        ctx,
        &tool,
        &shared,
        live_color,
        idle,
        &image.pinned,
        allow_unsafe,
    );
    // The states the artifact records as made against: the shared stack's and the live
    // color's are read while the idle color plans (independent stacks, one process each).
    let live_meta = async {
        match read {
            true => Ok::<_, Error>(
                ctx.service_stack(&tool, live, &shared, "")?
                    .state_meta()
                    .await?,
            ),
            false => Ok(None),
        }
    };
    let (planned, shared_meta, live_meta) =
        tokio::join!(planned, shared_stack.state_meta(), live_meta);
    let mut planned = planned?;
    let states = States {
        shared: shared_meta?,
        live: live_meta?,
        idle: planned.stack.state_meta().await?,
    };
    let source = Source::New {
        strategy: Some(strategy),
        image: &image,
        old: Some(live),
        new: idle,
        old_provisioned: read,
        until: None,
    };
    let spec = deployment_spec(&Today::of(&ctx.cfg), source)?;
    let made_against = (route_weights(&routes), states, last_deployment);
    let safety = SafetyPart {
        protected: ctx.cfg.plan_safety.protected.clone(),
        findings: planned.findings.clone(),
        allowed: allow_unsafe,
    };
    let terraform = terraform_part(&tool, &mut planned);
    let body = body(ctx, env_arg, image, spec, made_against, terraform, safety)?;
    seal_and_report(ctx, body, &planned.path, out)
}

/// The journal's newest deployment; refused while a deployment is unfinished.
async fn newest_finished(ctx: &Ctx, store: &Store) -> Result<Option<String>, Error> {
    let arg = &ctx.cfg.env_arg;
    if let Some((s, _)) = store.unfinished().await? {
        return Err(Error::refused(
            format!(
                "deployment {} is unfinished (it is at: {}); a plan made now would be stale at once",
                s.id, s.step
            ),
            format!(
                "finish it first: `bluegreen resume --env {arg}` or `bluegreen rollback --env {arg}`"
            ),
        ));
    }
    Ok(store.latest().await?.map(|s| s.id))
}

/// The shared stack and its outputs; refused when it has none (a first deploy is not planned).
async fn read_shared(
    ctx: &Ctx,
    tool: &IacTool,
    store: &Store,
) -> Result<(Stack, SharedOutputs), Error> {
    let env = &ctx.cfg.name;
    let arg = &ctx.cfg.env_arg;
    let (shared_stack, shared) = ctx.read_shared(tool).await?;
    if let Some(shared) = shared {
        return Ok((shared_stack, shared));
    }
    ctx.refuse_missing_state(store, &shared_stack).await?;
    Err(Error::refused(
        format!(
            "the shared stack has no Terraform state in {} and the journal records no \
             deployment: there is nothing to plan against yet",
            ctx.state_location(&shared_stack)
        ),
        format!(
            "the first deploy into an empty environment is `bluegreen deploy --env {arg} --image …`; \
             if `{env}` is deployed already, {}",
            ctx.point_at_state_fix()
        ),
    ))
}

fn live_or_refuse(ctx: &Ctx, view: &ListenerView) -> Result<Color, Error> {
    live_color_of(view)?.ok_or_else(|| {
        Error::refused(
            "no color is live yet: a first deploy is not planned",
            format!(
                "run `bluegreen deploy --env {} --image …` for the first deploy",
                ctx.cfg.env_arg
            ),
        )
    })
}

fn route_weights(routes: &Routes<'_>) -> Vec<RouteWeights> {
    routes
        .before
        .iter()
        .map(|(arn, v)| RouteWeights {
            route: arn.clone(),
            weights: v.weights(),
        })
        .collect()
}

/// Seals `body` with the saved plan at `plan` into `out`, and reports it.
fn seal_and_report(ctx: &Ctx, mut body: PlanBody, plan: &Path, out: &Path) -> Result<(), Error> {
    let plan_bytes = std::fs::read(plan).map_err(|e| {
        Error::Internal(format!(
            "cannot read the saved plan {}: {e}",
            plan.display()
        ))
    })?;
    let (key, _) =
        crate::artifact::PlanKey::load(&ctx.work.plan_key_file()).map_err(artifact_error)?;
    // The redacted Terraform plan (most of the body) stays canonical text: the body is sealed
    // with it spliced in and the artifact written to the file as it is produced, so neither
    // the plan nor the artifact is ever held as a whole in another form (issue 16).
    let redacted_plan = std::mem::take(&mut body.terraform.redacted_plan);
    let value = serde_json::to_value(&body)
        .map_err(|e| Error::Internal(format!("cannot serialize the plan: {e}")))?;
    let splice = crate::artifact::Spliced {
        pointer: "/terraform/redacted_plan",
        raw: redacted_plan.raw(),
    };
    let checksum = write_new(out, |file| {
        crate::artifact::seal_to(&value, Some(splice), &plan_bytes, &key, file)
    })?;
    drop((plan_bytes, value));
    body.terraform.redacted_plan = redacted_plan;
    let body = &body;
    let human = render(body, out, &checksum);
    ctx.out.result(
        &human,
        &PlanResult {
            outcome: "planned",
            file: out.display().to_string(),
            checksum: checksum.clone(),
            plan: body,
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

/// The body of `spec`, made now with this environment file, against `routes`, `states` and
/// the journal's newest deployment.
fn body(
    ctx: &Ctx,
    env_arg: &str,
    image: Resolved,
    spec: DeploymentSpec,
    (routes, states, last_deployment): (Vec<RouteWeights>, States, Option<String>),
    terraform: TerraformPart,
    safety: SafetyPart,
) -> Result<PlanBody, Error> {
    let (total, worst_words) = crate::flow::run::worst_case(ctx, &spec.schedule, spec.scale_down);
    let me = crate::state::Holder::this_process("plan", "");
    Ok(PlanBody {
        env: ctx.cfg.name.clone(),
        env_arg: env_arg.to_string(),
        env_file_sha256: env_file_sha256(ctx)?,
        created_at: crate::state::rfc3339(crate::state::now_ms()),
        created_by: format!("{}@{}", me.user, me.host),
        bluegreen_version: env!("CARGO_PKG_VERSION").to_string(),
        image,
        routes,
        states,
        last_deployment,
        schedule_text: spec.schedule.to_string(),
        spec,
        worst_case_ms: total.as_millis() as u64,
        worst_case: worst_words,
        terraform,
        safety,
    })
}

/// Takes the redacted Terraform plan out of `planned` (it is not needed there any more).
fn terraform_part(tool: &IacTool, planned: &mut IdlePlan) -> TerraformPart {
    let s = &planned.outcome.summary;
    TerraformPart {
        tool: tool.program.display().to_string(),
        version: s.terraform_version.clone(),
        has_changes: planned.outcome.has_changes,
        add: s.add,
        change: s.change,
        replace: s.replace,
        destroy: s.destroy,
        changes: change_lines(s),
        redacted_plan: std::mem::take(&mut planned.outcome.redacted_plan),
    }
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
        b.spec.old.map(|c| c.as_str()).unwrap_or("none"),
        routes.join("; "),
        b.spec.new
    ));
    out.push_str(&format!(
        "  terraform:  {}: {} to add, {} to change, {} to replace, {} to destroy\n",
        b.spec.new, t.add, t.change, t.replace, t.destroy
    ));
    for c in &t.changes {
        out.push_str(&format!("              {:<13} {}\n", c.action, c.address));
    }
    out.push_str(&format!(
        "  schedule:   {} ({})\n",
        b.schedule_text, b.spec.strategy
    ));
    out.push_str(&format!("  signals:    {}\n", b.spec.signals.join(", ")));
    out.push_str(&format!(
        "  gates:      {}\n",
        if b.spec.approval.required {
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

/// Writes `path` through `write` atomically: an owner-only temporary file (the body shows the
/// plan's non-sensitive variable values in the clear), synced, then renamed into place; on any
/// failure the temporary file is removed and `path` is untouched.
fn write_new(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<String, ArtifactError>,
) -> Result<String, Error> {
    let tmp = path.with_extension("tmp-bluegreen");
    let cannot = |e: String| {
        let _ = std::fs::remove_file(&tmp);
        Error::bad_input(
            format!("cannot write the plan to {}: {e}", path.display()),
            "pass a writable --out path",
        )
    };
    let file = crate::iac::open_private(&tmp).map_err(|e| cannot(e.to_string()))?;
    let mut out = BufWriter::new(file);
    let checksum = match write(&mut out) {
        Ok(checksum) => checksum,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(artifact_error(e));
        }
    };
    let file = out
        .into_inner()
        .map_err(|e| cannot(e.error().to_string()))?;
    file.sync_all().map_err(|e| cannot(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| cannot(e.to_string()))?;
    Ok(checksum)
}
