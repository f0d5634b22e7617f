//! What the journal says about where traffic was good: an interrupted deployment's starting
//! color, or where the newest deployment's failed restore was putting traffic back. `rollback`
//! goes there (`crate::domain::rollback::target_color`).

use crate::domain::color::Color;
use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::session::Session;
use crate::report::Event;
use crate::state::journal::{FinalOutcome, Progress};
use crate::state::{Entry, Record, StoreError, Summary};

/// The journal's view for a rollback.
pub struct JournalView {
    /// The newest deployment, when it is unfinished (interrupted): the rollback ends it.
    pub unfinished: Option<(Summary, Vec<Record>)>,
    /// The known-good color, if the journal names one.
    pub known_good: Option<Color>,
}

/// Reads the journal's known-good color and says what it found. With `to` (the color named),
/// the newest finished deployment is not read, and a damaged journal does not stop an
/// emergency rollback (it stays as it is and still blocks deploys until repaired).
pub async fn journal_view(
    ctx: &Ctx,
    session: &Session,
    to: Option<Color>,
) -> Result<JournalView, Error> {
    let unfinished = match session.store.unfinished().await {
        Ok(u) => u,
        Err(e @ StoreError::Corrupt { .. }) if to.is_some() => {
            ctx.out.emit(Event::Warning {
                message: format!("{e}\nrolling back anyway, because --to names the color"),
            });
            None
        }
        Err(e @ StoreError::Corrupt { .. }) => {
            return Err(Error::refused(
                format!("{e}"),
                "to roll back without the journal, name the color: `bluegreen rollback --env ENV --to blue|green`",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let failed_restore = match (&unfinished, to) {
        (Some(_), _) | (None, Some(_)) => None,
        (None, None) => session
            .store
            .newest()
            .await?
            .filter(|(s, _)| s.outcome == Some(FinalOutcome::RollbackFailed)),
    };
    let known_good = unfinished
        .as_ref()
        .or(failed_restore.as_ref())
        .and_then(|(s, records)| known_good(s, records));
    if let (Some((s, _)), Some(old)) = (&unfinished, known_good) {
        ctx.info(format!(
            "deployment {} was interrupted at: {}; rolling back to the color it started from: {old}",
            s.id, s.step
        ));
    }
    if let (Some((s, _)), Some(good)) = (&failed_restore, known_good) {
        ctx.info(format!(
            "deployment {} could not finish putting traffic back on {good} ({}); finishing that",
            s.id,
            s.detail.as_deref().unwrap_or("restore not verified")
        ));
    }
    Ok(JournalView {
        unfinished,
        known_good,
    })
}

/// The color a deployment's journal says is known good: the color an interrupted or failed
/// rollback was restoring (its last rollback intent), else the color the deployment started
/// from (a `rollback` command: the color it was moving to).
pub fn known_good(s: &Summary, records: &[Record]) -> Option<Color> {
    let intent = records.iter().rev().find_map(|r| match &r.entry {
        Entry::RollbackIntent { to, .. } => to.live_color(),
        _ => None,
    });
    intent.or(match s.command.as_str() {
        "rollback" => s.to_color,
        _ => Progress::of(records).and_then(|p| p.start.spec.old),
    })
}
