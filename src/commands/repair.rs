//! `journal repair`: cut a damaged journal back to its last good record, keeping a copy.

use crate::error::Error;
use crate::flow::context::Ctx;
use serde::Serialize;

#[derive(Serialize)]
struct RepairResult<'a> {
    outcome: &'a str,
    env: &'a str,
    deployment: &'a str,
    kept: usize,
    backup: String,
    problem: String,
}

pub async fn repair(ctx: &Ctx, deployment: &str) -> Result<(), Error> {
    if !crate::state::valid_deployment_id(deployment) {
        return Err(Error::bad_input(
            format!("--deployment `{deployment}` is not a deployment id"),
            "copy the id from the error message or `bluegreen history`",
        ));
    }
    let store = ctx.store().await;
    let r = store.repair(deployment).await?;
    ctx.out.result(
        &format!(
            "repaired deployment {deployment}: kept {} records; the damaged original is saved as {} (problem was: {})",
            r.kept, r.backup, r.problem
        ),
        &RepairResult {
            outcome: "repaired",
            env: &ctx.cfg.name,
            deployment,
            kept: r.kept,
            backup: r.backup,
            problem: r.problem,
        },
    );
    Ok(())
}
