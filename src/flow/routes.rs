//! The production routes (listeners and rules) of one deployment, moved in lockstep: read them
//! all, write a weight change to every one and read all back, put them all back (a restore),
//! and notice someone else moving them. Each step is one round: every route read at once (one
//! DescribeListeners, one DescribeRules), every route written at once. Generic over the
//! [`Ports`], so the driver's tests run it against a scripted fake.

use crate::domain::color::Weights;
use crate::domain::ports::Ports;
use crate::domain::{ListenerView, TargetGroups, TrafficError};
use crate::flow::context::Ctx;
use crate::flow::interrupt::Interrupts;
use crate::flow::restore::{put_back, restore_timeout, Pace};
use crate::flow::session::Fence;
use crate::flow::traffic::{read_view, read_views, verify_all, write_views};
use crate::report::Event as Report;

/// The production routes (listeners and rules) and what each held before the deploy.
pub struct Routes<'a> {
    pub tgs: &'a TargetGroups,
    pub before: Vec<(String, ListenerView)>,
    /// Whether any write was attempted: a restore with nothing written only verifies.
    touched: bool,
}

/// How many more reads must agree before a foreign change of the weights is acted on.
const CONFIRM_READS: usize = 2;

impl<'a> Routes<'a> {
    /// Reads every route; all of them must be in one of the states bluegreen understands.
    pub async fn read<P: Ports>(
        aws: &P,
        tgs: &'a TargetGroups,
        arns: &[String],
    ) -> Result<Routes<'a>, TrafficError> {
        let views = read_views(aws.traffic(), arns, tgs).await?;
        let before = arns.iter().cloned().zip(views).collect();
        Ok(Routes {
            tgs,
            before,
            touched: false,
        })
    }

    /// The same routes with `weights` as the point a rollback restores (a resumed deployment
    /// restores where it started, not where it resumed). Every route is written on restore.
    pub fn restoring_to(self, weights: Weights) -> Routes<'a> {
        let before = self
            .before
            .into_iter()
            .map(|(arn, v)| {
                let view = ListenerView::Forwarding {
                    weights,
                    stickiness: v.stickiness(),
                };
                (arn, view)
            })
            .collect();
        Routes {
            tgs: self.tgs,
            before,
            touched: true,
        }
    }

    /// Like [`Routes::read`], and refuses (nothing changed) when a route disagrees with the
    /// production listener: a deploy or rebuild starts from one set of weights everywhere.
    pub async fn read_agreeing<P: Ports>(
        aws: &P,
        tgs: &'a TargetGroups,
        arns: &[String],
    ) -> Result<Routes<'a>, crate::error::Error> {
        let routes = Routes::read(aws, tgs, arns).await?;
        let disagreeing = routes.disagreeing();
        if !disagreeing.is_empty() {
            return Err(crate::error::Error::refused(
                format!(
                    "the production routes disagree with the production listener ({}): {}",
                    routes.primary().weights(),
                    disagreeing.join("; ")
                ),
                "put all traffic on one color first: `bluegreen rollback --env ENV --to COLOR`",
            ));
        }
        Ok(routes)
    }

    /// The production listener's view (the first route), which decides the live color.
    pub fn primary(&self) -> &ListenerView {
        &self.before[0].1
    }

    /// Routes that disagree with the production listener: shifting them in lockstep from
    /// different starting points would be guesswork.
    pub fn disagreeing(&self) -> Vec<String> {
        let w = self.primary().weights();
        self.before
            .iter()
            .filter(|(_, v)| v.weights() != w)
            .map(|(arn, v)| format!("{arn} reads {}", v.weights()))
            .collect()
    }

    /// Every route forwarding `wanted`, each keeping its stickiness.
    pub fn views_at(&self, wanted: Weights) -> Vec<(String, ListenerView)> {
        self.before
            .iter()
            .map(|(arn, v)| {
                let view = ListenerView::Forwarding {
                    weights: wanted,
                    stickiness: v.stickiness(),
                };
                (arn.clone(), view)
            })
            .collect()
    }

    /// Writes `wanted` to every route at once (keeping each route's stickiness) and reads all
    /// back. The writes go through `fence` (checked once, right before them): with the lock
    /// lost, nothing is written. A write that fails fails the change once every write has
    /// answered, and the caller restores every route, as for a route that never reads back.
    pub async fn set<P: Ports>(
        &mut self,
        ctx: &Ctx,
        aws: &P,
        fence: &Fence,
        wanted: Weights,
    ) -> Result<u32, String> {
        self.touched = true;
        let views = self.views_at(wanted);
        if let Err(fenced) = fence.check().await {
            return Err(fenced.to_string());
        }
        let written = write_views(aws.traffic(), &views, self.tgs).await;
        if let Some(Err(e)) = written.into_iter().find(Result::is_err) {
            let now = self.describe_now(aws).await;
            return Err(format!("{e}; production routes now read: {now}"));
        }
        let reads = verify_all(
            aws.traffic(),
            &views,
            self.tgs,
            ctx.cfg.traffic.verify_timeout,
            ctx.verify_interval(),
        )
        .await;
        let reads = match reads {
            Ok(r) => r,
            Err(e) => {
                let now = self.describe_now(aws).await;
                return Err(format!("{e}; production routes now read: {now}"));
            }
        };
        for (arn, _) in &views {
            ctx.out.emit(Report::WeightsVerified {
                listener: arn.clone(),
                weights: wanted,
                reads,
            });
        }
        Ok(reads)
    }

    /// Puts every route back to what it held before the deploy and reads all back, retrying
    /// until the restore's deadline ([`crate::flow::restore`]).
    pub async fn restore<P: Ports>(&self, ctx: &Ctx, aws: &P, fence: &Fence) -> Result<(), String> {
        self.restore_watching(ctx, aws, fence, &Interrupts::watch())
            .await
    }

    /// [`Routes::restore`], stopped after the current write by a signal `interrupts` saw.
    pub async fn restore_watching<P: Ports>(
        &self,
        ctx: &Ctx,
        aws: &P,
        fence: &Fence,
        interrupts: &Interrupts,
    ) -> Result<(), String> {
        let (views, write) = (&self.before, self.touched);
        self.put_watching(ctx, aws, fence, views, write, interrupts)
            .await
    }

    /// Writes `views` (if `write`) like a restore: fenced, retried, read back twice.
    pub async fn put<P: Ports>(
        &self,
        ctx: &Ctx,
        aws: &P,
        fence: &Fence,
        views: &[(String, ListenerView)],
        write: bool,
    ) -> Result<(), String> {
        self.put_watching(ctx, aws, fence, views, write, &Interrupts::watch())
            .await
    }

    async fn put_watching<P: Ports>(
        &self,
        ctx: &Ctx,
        aws: &P,
        fence: &Fence,
        views: &[(String, ListenerView)],
        write: bool,
        interrupts: &Interrupts,
    ) -> Result<(), String> {
        let pace = Pace {
            timeout: restore_timeout(ctx.cfg.traffic.verify_timeout),
            verify_interval: ctx.verify_interval(),
        };
        let tgs = self.tgs;
        let result = put_back(aws.traffic(), fence, views, tgs, pace, interrupts, write).await;
        match result {
            Ok(reads) => {
                for (arn, v) in views {
                    ctx.out.emit(Report::WeightsVerified {
                        listener: arn.clone(),
                        weights: v.weights(),
                        reads,
                    });
                }
                Ok(())
            }
            Err(e) => {
                let now = self.describe_now(aws).await;
                Err(format!("{e}; production routes now read: {now}"))
            }
        }
    }

    /// The routes' ARNs, in order.
    fn arns(&self) -> Vec<String> {
        self.before.iter().map(|(arn, _)| arn.clone()).collect()
    }

    /// Every route's weights now, for the loud message of a failed restore: one read round,
    /// or (when it fails) each route on its own, to name the unreadable one.
    async fn describe_now<P: Ports>(&self, aws: &P) -> String {
        if let Ok(views) = read_views(aws.traffic(), &self.arns(), self.tgs).await {
            let parts: Vec<String> = (self.before.iter().zip(views))
                .map(|((arn, _), v)| format!("{arn}: {}", v.weights()))
                .collect();
            return parts.join(", ");
        }
        let mut parts = Vec::new();
        for (arn, _) in &self.before {
            parts.push(match read_view(aws.traffic(), arn, self.tgs).await {
                Ok(v) => format!("{arn}: {}", v.weights()),
                Err(e) => format!("{arn}: unreadable ({e})"),
            });
        }
        parts.join(", ")
    }

    /// The first route whose weights differ from `expected`, if any (routes that cannot be
    /// read are passed over). One read round; each route on its own when that fails.
    async fn first_difference<P: Ports>(&self, aws: &P, expected: Weights) -> Option<Weights> {
        if let Ok(views) = read_views(aws.traffic(), &self.arns(), self.tgs).await {
            return views
                .iter()
                .map(ListenerView::weights)
                .find(|w| *w != expected);
        }
        for (arn, _) in &self.before {
            if let Ok(v) = read_view(aws.traffic(), arn, self.tgs).await {
                if v.weights() != expected {
                    return Some(v.weights());
                }
            }
        }
        None
    }

    /// A foreign change of the weights, confirmed: the same difference on [`CONFIRM_READS`]
    /// more reads over a short window. One odd answer (a stale replica, a replayed response)
    /// is never acted on.
    pub(crate) async fn foreign_change<P: Ports>(
        &self,
        ctx: &Ctx,
        aws: &P,
        expected: Weights,
    ) -> Option<Weights> {
        let seen = self.first_difference(aws, expected).await?;
        for _ in 0..CONFIRM_READS {
            tokio::time::sleep(ctx.verify_interval()).await;
            if self.first_difference(aws, expected).await != Some(seen) {
                tracing::warn!(
                    "one read said {seen} where {expected} was verified; not confirmed by the next read"
                );
                return None;
            }
        }
        Some(seen)
    }
}
