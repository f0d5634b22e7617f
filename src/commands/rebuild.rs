//! `rebuild`: NOT BUILT YET (issue 6) — refuses with a clear message.

use super::context::Ctx;
use crate::error::Error;
use crate::image::ImageRef;
use std::time::Duration;

pub async fn run(
    ctx: &Ctx,
    _swap: bool,
    _image: Option<&ImageRef>,
    _lock_wait: Duration,
) -> Result<(), Error> {
    Err(Error::refused(
        format!(
            "`rebuild` is not built yet (environment `{}`)",
            ctx.cfg.name
        ),
        "use `bluegreen deploy --force` with the live image to re-provision the idle color",
    ))
}
