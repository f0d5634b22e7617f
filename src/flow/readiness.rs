//! Waiting until a color may take production traffic, judged the way a deploy judges it: every
//! configured signal read by [`SignalReader`] (ECS, target health, alarms, HTTP checks) and
//! judged by [`readiness`] (the deploy's verdict rules, no-data policies and "pending too
//! long" rule), polled at `health.poll_interval` within `health.timeout`. `rollback` judges
//! its target with it, and `rebuild` the color it re-created, at zero traffic.

use crate::domain::{readiness, verdict, Readiness, Reading, Stage, Verdict};
use crate::error::Error;
use crate::flow::context::{Aws, Ctx};
use crate::flow::readings::SignalReader;
use crate::flow::session::Session;
use crate::flow::target::Target;
use crate::report::Event;
use tokio::time::Instant;

/// Polls `target`'s signals until every one passes (`Ok` of nothing) or some fail — at once,
/// or by staying pending until `health.timeout` (`Ok` of the failing readings). `stage` is
/// `Settling` for a color still coming up (a bad reading only means "not yet") and `Watching`
/// for a warm one (a bad reading counts at once; only "no data" with `wait` is waited for).
/// A lost lock stops it at once with `lock_lost()` (each command says what that means for it).
pub async fn until_ready(
    ctx: &Ctx,
    aws: &Aws,
    session: &Session,
    target: Target<'_>,
    stage: Stage,
    lock_lost: impl Fn() -> Error,
) -> Result<Vec<Reading>, Error> {
    let health = &ctx.cfg.health;
    let color = target.color;
    let mut signals = SignalReader::new(health, target).map_err(Error::Internal)?;
    let start = Instant::now();
    let mut last: Vec<Reading> = Vec::new();
    loop {
        if session.guard.lost() {
            return Err(lock_lost());
        }
        let readings = signals.read(aws).await;
        for r in readings.iter().filter(|r| !last.contains(r)) {
            ctx.out.emit(Event::Health {
                color,
                signal: r.signal.clone(),
                ok: verdict(r, stage) == Verdict::Pass,
                observed: r.observed.clone(),
            });
        }
        match readiness(&readings, stage, start.elapsed(), health.timeout) {
            Readiness::Ready => return Ok(Vec::new()),
            Readiness::Failing(failing) => return Ok(failing),
            Readiness::Pending(_) => {}
        }
        last = readings;
        tokio::time::sleep(health.poll_interval).await;
    }
}
