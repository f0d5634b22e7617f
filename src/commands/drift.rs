//! `drift`: being built (issue 6).

use super::context::Ctx;
use crate::error::Error;

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    Err(Error::refused(
        format!("`drift` is not built yet (environment `{}`)", ctx.cfg.name),
        "see `bluegreen status`",
    ))
}
