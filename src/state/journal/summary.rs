//! Reading a journal: a deployment's records folded into a [`Summary`] (status, history) and
//! the [`Progress`] `resume` continues from.

use super::*;

/// Where a deployment is, folded from its records: what `status`, `history` and `resume`
/// need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub id: String,
    /// `deploy` or `rollback`.
    pub command: String,
    pub user: String,
    pub host: String,
    pub image: Option<String>,
    pub from_color: Option<Color>,
    pub to_color: Option<Color>,
    pub strategy: Option<String>,
    pub started: String,
    pub started_ms: u64,
    pub finished: Option<String>,
    pub duration_ms: Option<u64>,
    /// `None` while running or interrupted.
    pub outcome: Option<FinalOutcome>,
    pub detail: Option<String>,
    pub failing_signal: Option<String>,
    /// The weights every production route last read back as written.
    pub last_verified: Option<Weights>,
    /// The last record, in words: where it is (or where it stopped).
    pub step: String,
    pub paused: bool,
    /// Waiting at the approval gate for `bluegreen approve` (no approval recorded yet).
    pub awaiting_approval: bool,
    /// Every approval, oldest first, with when it was recorded.
    pub approvals: Vec<Approved>,
    /// Where `--until` stopped it, while it has not moved on.
    pub stopped_at: Option<String>,
    pub records: usize,
    /// Lock takeovers, forced unlocks, resumes and forced rollbacks, in words.
    pub events: Vec<String>,
    /// A `rollback --force`: the target's failing signals it moved traffic past. Only present
    /// (in JSON) when there were some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forced: Vec<Overridden>,
}

/// An approval and when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approved {
    pub at: String,
    #[serde(flatten)]
    pub approval: Approval,
}

impl Summary {
    /// The command that started it, as a kind (`rollback` and the like are
    /// [`CommandKind::Other`]).
    pub fn started_by(&self) -> CommandKind {
        CommandKind::parse(&self.command)
    }

    /// `None` for an empty journal.
    pub fn of(records: &[Record]) -> Option<Summary> {
        let first = records.first()?;
        let mut s = Summary {
            id: first.deployment.clone(),
            command: String::new(),
            user: String::new(),
            host: String::new(),
            image: None,
            from_color: None,
            to_color: None,
            strategy: None,
            started: first.at.clone(),
            started_ms: first.at_ms,
            finished: None,
            duration_ms: None,
            outcome: None,
            detail: None,
            failing_signal: None,
            last_verified: None,
            step: String::new(),
            paused: false,
            awaiting_approval: false,
            approvals: Vec::new(),
            stopped_at: None,
            records: records.len(),
            events: Vec::new(),
            forced: Vec::new(),
        };
        for r in records {
            s.step = describe(&r.entry);
            if !matches!(r.entry, Entry::Stopped { .. }) {
                s.stopped_at = None;
            }
            match &r.entry {
                Entry::AwaitingApproval { .. } => s.awaiting_approval = true,
                Entry::Approved(a) => {
                    s.awaiting_approval = false;
                    s.approvals.push(Approved {
                        at: r.at.clone(),
                        approval: a.clone(),
                    });
                }
                Entry::Stopped { at } => s.stopped_at = Some(at.clone()),
                Entry::Started(st) => {
                    s.command = st.command.as_str().to_string();
                    s.user = st.user.clone();
                    s.host = st.host.clone();
                    s.image = Some(st.spec.image.clone());
                    s.from_color = st.spec.old;
                    s.to_color = Some(st.spec.new);
                    s.strategy = Some(st.spec.strategy.clone());
                }
                Entry::RollbackStarted {
                    user,
                    host,
                    from,
                    to,
                    forced,
                    ..
                } => {
                    s.command = "rollback".into();
                    s.user = user.clone();
                    s.host = host.clone();
                    s.from_color = from.live_color();
                    s.to_color = Some(*to);
                    if !forced.is_empty() {
                        let list: Vec<String> = forced.iter().map(|o| o.to_string()).collect();
                        s.events.push(format!(
                            "{}: forced (`rollback --force`) past failing signals of {to}: {}",
                            r.at,
                            list.join("; ")
                        ));
                    }
                    s.forced = forced.clone();
                }
                Entry::WeightsVerified { weights, .. } | Entry::Restored { weights } => {
                    s.last_verified = Some(*weights);
                    s.paused = false;
                }
                Entry::Paused { .. } => s.paused = true,
                Entry::Continued { .. } => s.paused = false,
                Entry::RollbackIntent { signal, .. } => {
                    s.failing_signal = Some(signal.clone());
                    s.paused = false;
                }
                Entry::LockTakenOver { previous, reason } => s.events.push(format!(
                    "{}: took over the lock of {} ({reason})",
                    r.at, previous.holder
                )),
                Entry::LockForced { by, lock } => s.events.push(format!(
                    "{}: lock of {} removed by `unlock --force` ({by})",
                    r.at, lock.holder
                )),
                Entry::Resumed {
                    user,
                    host,
                    pid,
                    weights,
                    ..
                } => s.events.push(format!(
                    "{}: resumed by {user}@{host} (pid {pid}) at {weights}",
                    r.at
                )),
                Entry::Finished {
                    outcome,
                    detail,
                    failing_signal,
                } => {
                    s.outcome = Some(*outcome);
                    s.detail = Some(detail.clone());
                    if failing_signal.is_some() {
                        s.failing_signal = failing_signal.clone();
                    }
                    s.finished = Some(r.at.clone());
                    s.duration_ms = Some(r.at_ms.saturating_sub(s.started_ms));
                    s.paused = false;
                    s.awaiting_approval = false;
                }
                _ => {}
            }
        }
        Some(s)
    }
}

/// One record in words, for `status` and `history`.
pub fn describe(e: &Entry) -> String {
    match e {
        Entry::Started(s) => format!("started: {} to {}", s.spec.image, s.spec.new),
        Entry::RollbackStarted { to, .. } => format!("rollback to {to} started"),
        Entry::LockTakenOver { previous, .. } => {
            format!("took over the lock of {}", previous.holder)
        }
        Entry::LockForced { .. } => "lock forcibly removed".into(),
        Entry::Resumed { weights, .. } => format!("resumed at {weights}"),
        Entry::Provisioning { color } => format!("provisioning {color}"),
        Entry::Provisioned { color, .. } => format!("{color} provisioned"),
        Entry::ScaledUp { color, desired } => format!("{color} scaled to {desired}"),
        Entry::Settled => "passed every signal with test traffic only".into(),
        Entry::AwaitingApproval { .. } => "awaiting approval (`bluegreen approve`)".into(),
        Entry::Approved(a) => format!("approved by {a}"),
        Entry::Stopped { at } => format!("stopped at {at} (--until)"),
        Entry::WeightsIntent { weights, step } => match step {
            Some(i) => format!("step {}: writing {weights}", i + 1),
            None => format!("writing {weights}"),
        },
        Entry::WeightsVerified { weights, step } => match step {
            Some(i) => format!("step {}: {weights} verified", i + 1),
            None => format!("{weights} verified"),
        },
        Entry::WeightsFailed { weights, error } => format!("writing {weights} failed: {error}"),
        Entry::BakePassed { step } => format!("step {}: bake passed", step + 1),
        Entry::Paused { step } => format!("paused at step {}", step + 1),
        Entry::Continued { step } => format!("continued after step {}", step + 1),
        Entry::PostBake => "100%: post-promotion bake".into(),
        Entry::TerminationWait => "termination wait".into(),
        Entry::ScaleDownIntent { color } => format!("scaling {color} down"),
        Entry::ScaledDown { color } => format!("{color} scaled down"),
        Entry::ScaleDownFailed { color, error } => format!("scaling {color} down failed: {error}"),
        Entry::RollbackIntent { to, signal, .. } => format!("rolling back to {to} ({signal})"),
        Entry::Restored { weights } => format!("restored {weights}"),
        Entry::RestoreFailed { error } => format!("restore failed: {error}"),
        Entry::Finished { outcome, .. } => format!("finished: {}", outcome.as_str()),
    }
}

/// Where an unfinished deploy stopped, for `resume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub start: Start,
    pub provisioned: Option<(String, String, String)>,
    /// The last weights every route read back, with the step that asked for them.
    pub verified: Option<(Weights, Option<usize>)>,
    /// A weight change that was journaled but never verified or failed: it may or may not
    /// have landed.
    pub pending: Option<(Weights, Option<usize>)>,
    /// The step the deploy last started baking or pausing at and whether it passed.
    pub paused_at: Option<usize>,
    pub bake_passed: Option<usize>,
    pub post_bake: bool,
    pub termination_wait: bool,
    pub scale_down_intent: bool,
    /// A rollback was journaled and not finished: where traffic must go.
    pub rolling_back: Option<Weights>,
    /// The failing signal of that rollback, for the final record.
    pub rollback_signal: Option<String>,
    /// `bluegreen approve` approved production traffic.
    pub approved: bool,
}

impl Progress {
    /// `None` when the journal does not start with a deploy.
    pub fn of(records: &[Record]) -> Option<Progress> {
        let Entry::Started(start) = &records.first()?.entry else {
            return None;
        };
        let mut p = Progress {
            start: start.clone(),
            provisioned: None,
            verified: None,
            pending: None,
            paused_at: None,
            bake_passed: None,
            post_bake: false,
            termination_wait: false,
            scale_down_intent: false,
            rolling_back: None,
            rollback_signal: None,
            approved: false,
        };
        for r in &records[1..] {
            match &r.entry {
                Entry::Provisioned {
                    cluster,
                    service,
                    task_definition,
                    ..
                } => {
                    p.provisioned =
                        Some((cluster.clone(), service.clone(), task_definition.clone()))
                }
                Entry::WeightsIntent { weights, step } => p.pending = Some((*weights, *step)),
                Entry::WeightsVerified { weights, step } => {
                    p.pending = None;
                    p.verified = Some((*weights, *step));
                }
                Entry::WeightsFailed { .. } => p.pending = None,
                Entry::Paused { step } => p.paused_at = Some(*step),
                Entry::Continued { .. } => p.paused_at = None,
                Entry::BakePassed { step } => p.bake_passed = Some(*step),
                Entry::PostBake => p.post_bake = true,
                Entry::TerminationWait => p.termination_wait = true,
                Entry::ScaleDownIntent { .. } => p.scale_down_intent = true,
                Entry::RollbackIntent { to, signal, .. } => {
                    p.rolling_back = Some(*to);
                    p.rollback_signal = Some(signal.clone());
                    p.pending = None;
                }
                Entry::Restored { weights } => p.verified = Some((*weights, None)),
                Entry::Approved(_) => p.approved = true,
                _ => {}
            }
        }
        Some(p)
    }
}

impl Progress {
    /// The weights the journal last saw verified (the `before` weights if nothing moved yet).
    pub fn verified_weights(&self) -> Weights {
        self.verified.map(|(w, _)| w).unwrap_or(self.start.before)
    }

    /// Whether `resume` can continue from routes reading `reads` (one per production route):
    /// an unfinished rollback can always be finished; otherwise every route must read the
    /// last verified weights or those of the change announced last (a change the process died
    /// in the middle of is finished). The rule `bluegreen resume` applies, for `status`.
    pub fn can_resume(&self, reads: &[Weights]) -> bool {
        if self.rolling_back.is_some() {
            return true;
        }
        let verified = self.verified_weights();
        let pending = self.pending.map(|(w, _)| w);
        let allowed = |r: &Weights| *r == verified || Some(*r) == pending;
        !reads.is_empty() && reads.iter().all(allowed)
    }
}
