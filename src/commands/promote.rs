//! `promote`: lets a deploy that waits at a pause step continue. The deploy process itself
//! makes the next weight change; this command only asks, and refuses when nothing is waiting.

use super::context::Ctx;
use super::control::Control;
use crate::error::Error;
use serde::Serialize;

#[derive(Serialize)]
struct PromoteResult<'a> {
    outcome: &'a str,
    env: &'a str,
    pid: u32,
    phase: &'a str,
}

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    let control = Control::new(ctx.work.path());
    let env = &ctx.cfg.name;
    let (state, alive) = control.read().ok_or_else(|| {
        Error::refused(
            format!("no deploy is running in `{env}`; nothing to promote"),
            format!("start one: `bluegreen deploy --env {env} --image IMAGE`"),
        )
    })?;
    if !alive {
        return Err(Error::refused(
            format!(
                "the deploy of {} (pid {}) is no longer running; it stopped during {}",
                state.image, state.pid, state.phase
            ),
            format!(
                "check `bluegreen status --env {env}`, then deploy again or `bluegreen rollback`"
            ),
        ));
    }
    if !state.paused {
        return Err(Error::refused(
            format!(
                "the deploy of {} (pid {}) is not paused; it is in {}",
                state.image, state.pid, state.phase
            ),
            "promote only continues a deploy that waits at a `pause` step",
        ));
    }
    control.request_promote()?;
    ctx.out.result(
        &format!(
            "promote requested: deploy pid {} continues from {}",
            state.pid, state.phase
        ),
        &PromoteResult {
            outcome: "promote_requested",
            env,
            pid: state.pid,
            phase: &state.phase,
        },
    );
    Ok(())
}
