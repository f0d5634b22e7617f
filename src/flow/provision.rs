//! Provisioning the idle color: plan it with Terraform (shared stack first on a first deploy), apply exactly that plan, bring the service to full size and point the test listener at it.

use crate::aws::Services;
use crate::domain::color::{Color, Weights};
use crate::error::Error;
use crate::flow::context::{Aws, Ctx, StackId};
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::session::Session;
use crate::flow::traffic::read_view;
use crate::iac::{IacTool, Stack};
use crate::report::Event;
use crate::state::Entry;

/// How the new color gets provisioned.
pub enum Provision<'a> {
    /// Plan now and apply that plan (`resume` before `provisioned`, `rebuild`).
    PlanNow,
    /// Apply this saved plan exactly (`deploy`, `apply`); `has_changes` from its
    /// `-detailed-exitcode`.
    Saved {
        stack: &'a Stack,
        plan: &'a std::path::Path,
        has_changes: bool,
    },
    /// `provisioned` is journaled already (a resumed deployment).
    Done(ServiceOutputs),
}

/// Provisions the new color with `image` as `provision` says, brings it to full size and
/// points the test listener at it.
#[allow(clippy::too_many_arguments)]
pub async fn prepare_new_color(
    ctx: &Ctx,
    tool: &IacTool,
    aws: &Aws,
    session: &mut Session,
    shared: &SharedOutputs,
    idle: Color,
    image: &str,
    provision: Provision<'_>,
) -> Result<ServiceOutputs, Error> {
    let out = match provision {
        Provision::Done(out) => out,
        provision => provision_color(ctx, tool, session, shared, idle, image, provision).await?,
    };
    let desired = ctx.cfg.service.desired_count as i32;
    ctx.step(format!(
        "scaling {idle} service {} to {desired}",
        out.service_name
    ));
    session.fence_check().await?;
    aws.services
        .set_desired(&out.cluster_name, &out.service_name, desired)
        .await?;
    let scaled = Entry::ScaledUp {
        color: idle,
        desired: desired as u32,
    };
    session.record(ctx, scaled).await;
    if let Some(test) = &shared.test_listener_arn {
        ctx.step(format!("pointing the test listener at {idle}"));
        let tgs = &shared.target_groups;
        let view = read_view(&aws.traffic, test, tgs).await?;
        session.fence_check().await?;
        ctx.shift(aws, test, tgs, &view, Weights::all_on(idle))
            .await?;
    }
    Ok(out)
}

/// `provisioning`, the Terraform apply (of the saved plan, or of a plan made now), the
/// outputs checked against the shared stack, `provisioned`.
async fn provision_color(
    ctx: &Ctx,
    tool: &IacTool,
    session: &mut Session,
    shared: &SharedOutputs,
    idle: Color,
    image: &str,
    provision: Provision<'_>,
) -> Result<ServiceOutputs, Error> {
    session.write(Entry::Provisioning { color: idle }).await?;
    ctx.step(format!("provisioning {idle} with {image}"));
    let fresh;
    let stack = match provision {
        Provision::Saved {
            stack,
            plan,
            has_changes,
        } => {
            if has_changes {
                session.fence_check().await?;
                ctx.forget_outputs(StackId::Color(idle));
                stack
                    .apply(plan, &mut ctx.tf_apply_progress(StackId::Color(idle)))
                    .await?;
            } else {
                ctx.info(format!("[{idle}] no changes"));
            }
            stack
        }
        _ => {
            fresh = ctx.service_stack(tool, idle, shared, image)?;
            fresh
                .prepare(&mut ctx.tf_progress(StackId::Color(idle)))
                .await?;
            plan_and_apply(ctx, &fresh, StackId::Color(idle)).await?;
            &fresh
        }
    };
    let outputs = ctx.terraform_outputs(stack, StackId::Color(idle)).await?;
    let out = ServiceOutputs::read(&outputs, idle)
        .map_err(Error::Contract)?
        .ok_or_else(|| Error::Contract(format!("the {idle} stack has no outputs after apply")))?;
    out.check_against(idle, shared).map_err(Error::Contract)?;
    let done = Entry::Provisioned {
        color: idle,
        cluster: out.cluster_name.clone(),
        service: out.service_name.clone(),
        task_definition: out.task_definition_arn.clone(),
    };
    session.record(ctx, done).await;
    Ok(out)
}

/// `plan -out` (or `plan -destroy -out`) of `stack` into `path` in the work directory, read
/// back and reported as a plan event.
pub async fn plan_into(
    ctx: &Ctx,
    stack: &Stack,
    id: StackId,
    path: &std::path::Path,
    destroy: bool,
) -> Result<crate::iac::PlanOutcome, Error> {
    create_parent(path)?;
    let progress = &mut ctx.tf_progress(id);
    let outcome = if destroy {
        stack.plan_destroy(path, progress).await?
    } else {
        stack.plan(path, progress).await?
    };
    let s = &outcome.summary;
    ctx.out.emit(Event::Plan {
        stack: id.name().to_string(),
        add: s.add,
        change: s.change,
        replace: s.replace,
        destroy: s.destroy,
    });
    Ok(outcome)
}

/// `plan -out`, summarise the saved plan, and apply exactly that plan if it changes anything.
pub async fn plan_and_apply(ctx: &Ctx, stack: &Stack, id: StackId) -> Result<(), Error> {
    let plan = &ctx.plan_path(id);
    let outcome = plan_into(ctx, stack, id, plan, false).await?;
    if outcome.has_changes {
        ctx.forget_outputs(id);
        stack.apply(plan, &mut ctx.tf_apply_progress(id)).await?;
    } else {
        ctx.info(format!("[{}] no changes", id.name()));
    }
    Ok(())
}

/// The shared stack's outputs; on the first deploy into an empty environment, applies it first.
/// A shared stack without state in an environment the journal knows is not a first deploy:
/// refused before anything is created.
pub async fn ensure_shared(
    ctx: &Ctx,
    tool: &IacTool,
    store: &crate::state::Store,
) -> Result<SharedOutputs, Error> {
    ctx.step("reading the shared stack");
    let (stack, shared) = ctx.read_shared(tool).await?;
    if let Some(s) = shared {
        return Ok(s);
    }
    ctx.refuse_missing_state(store, &stack).await?;
    ctx.step("the shared stack was never applied: provisioning it (first deploy)");
    stack.prepare(&mut ctx.tf_progress(StackId::Shared)).await?;
    plan_and_apply(ctx, &stack, StackId::Shared).await?;
    SharedOutputs::read(&ctx.terraform_outputs(&stack, StackId::Shared).await?)
        .map_err(Error::Contract)?
        .ok_or_else(|| Error::Contract("the shared stack has no outputs after apply".into()))
}

/// Creates the directory `path` goes in (a saved plan's, in the work directory).
pub fn create_parent(path: &std::path::Path) -> Result<(), Error> {
    match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display()))),
        None => Ok(()),
    }
}

/// Whether the live color's service already runs exactly `image` at full size.
pub async fn already_running(aws: &Aws, out: &ServiceOutputs, image: &str) -> Result<bool, Error> {
    let Some(svc) = aws
        .services
        .describe(&out.cluster_name, &out.service_name)
        .await?
    else {
        return Ok(false);
    };
    let images = aws
        .services
        .task_definition_images(&svc.task_definition)
        .await?;
    Ok(runs_image(&images, svc.desired, image))
}

/// A service whose task definition runs `images` at `desired` tasks already runs `image`:
/// one of its containers runs exactly that reference (no tag-to-digest matching), and it is
/// not scaled to zero.
pub fn runs_image(images: &[String], desired: i32, image: &str) -> bool {
    images.iter().any(|i| i == image) && desired > 0
}

#[cfg(test)]
mod tests {
    use super::runs_image;

    #[test]
    fn already_running_means_this_exact_reference_at_a_nonzero_size() {
        let app = "r@sha256:1".to_string();
        let sidecar = "envoy:1".to_string();
        // (images of the task definition, desired, image deployed) → already running
        let cases = [
            (vec![app.clone()], 2, true),
            (vec![sidecar.clone(), app.clone()], 1, true),
            (vec![app.clone()], 0, false),
            (vec![sidecar.clone()], 2, false),
            (vec![], 2, false),
            (vec!["r:1".to_string()], 2, false),
        ];
        for (images, desired, expected) in cases {
            assert_eq!(
                runs_image(&images, desired, &app),
                expected,
                "{images:?} at {desired}"
            );
        }
    }
}
