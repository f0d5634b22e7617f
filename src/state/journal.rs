//! The deployment journal: an append-only list of records per deployment, one JSON document
//! each (one line in the local backend, one item in DynamoDB). Schema version 1 is documented
//! in docs/operations.md; a reader refuses any other version rather than guessing.
//!
//! Order of writes: an *intent* record before a step acts (`weights-intent`,
//! `rollback-intent`, `scale-down-intent`, `provisioning`), an *outcome* record after it is
//! verified (`weights-verified`, `restored`, `scaled-down`, `provisioned`). After a crash, the
//! last intent without an outcome says exactly which change may or may not have landed, and
//! `resume` reads the live weights to find out.

use super::{rfc3339, Store, StoreError};
use crate::domain::color::{Color, Weights};
use crate::domain::{DeploymentSpec, Gate, Schedule, Step};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The journal's schema version. Readers refuse records of any other version.
pub const SCHEMA_VERSION: u32 = 1;

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    pub deployment: String,
    /// 1, 2, 3, … without gaps; a backend refuses a second record with the same number.
    pub seq: u64,
    /// Milliseconds since the epoch, and the same time for people.
    pub at_ms: u64,
    pub at: String,
    pub entry: Entry,
    /// The fencing token of the lock its writer held ([`super::LockInfo::fence`]): the store
    /// refuses the record unless the environment's lock still carries this token. Absent in
    /// records written without the lock (`unlock --force`) and before fencing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<u64>,
}

/// A step of the schedule as the journal keeps it (exact milliseconds, so a resumed deploy
/// runs exactly the schedule that was started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StepRecord {
    Weight { percent: u16, bake_ms: u64 },
    Pause,
}

/// What the deploy was started with: everything `resume` needs to continue exactly it. On
/// disk (schema 1) its fields are flat, in the order of the private `StartRecord`; in memory the
/// deployment itself is one [`DeploymentSpec`] (what the journal does not keep reads back as
/// unset: see the spec's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StartRecord", from = "StartRecord")]
pub struct Start {
    /// The command that started it.
    pub command: CommandKind,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// The production weights read before anything moved.
    pub before: Weights,
    /// What runs: a first deploy's schedule is all-at-once whatever was configured.
    pub spec: DeploymentSpec,
    /// The checksum of the plan artifact `bluegreen apply` carried out, if any.
    pub plan_artifact: Option<String>,
    /// Plan-safety findings `--allow-unsafe-plan` let through, in words.
    pub unsafe_plan_allowed: Vec<String>,
}

/// The command that started a deployment, as the journal's `command` spells it: absent for
/// `deploy` (schema 1 documents written before the field existed still read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Deploy,
    Apply,
    /// `rebuild` without `--swap`: production traffic never moves.
    Rebuild,
    RebuildSwap,
    /// A name this bluegreen did not write; kept as read.
    Other(String),
}

impl CommandKind {
    /// The journal's spelling, and what `status` and `history` show.
    pub fn as_str(&self) -> &str {
        match self {
            CommandKind::Deploy => "deploy",
            CommandKind::Apply => "apply",
            CommandKind::Rebuild => "rebuild",
            CommandKind::RebuildSwap => "rebuild --swap",
            CommandKind::Other(s) => s,
        }
    }

    /// The kind `as_str` spells `s`.
    pub fn parse(s: &str) -> CommandKind {
        match s {
            "deploy" => CommandKind::Deploy,
            "apply" => CommandKind::Apply,
            "rebuild" => CommandKind::Rebuild,
            "rebuild --swap" => CommandKind::RebuildSwap,
            other => CommandKind::Other(other.to_string()),
        }
    }

    fn to_record(&self) -> Option<String> {
        match self {
            CommandKind::Deploy => None,
            other => Some(other.as_str().to_string()),
        }
    }

    fn from_record(s: Option<String>) -> CommandKind {
        s.map_or(CommandKind::Deploy, |s| CommandKind::parse(&s))
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// [`Start`] as schema 1 writes it, field by field in this order.
#[derive(Serialize, Deserialize)]
struct StartRecord {
    /// `None` for `deploy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    user: String,
    host: String,
    pid: u32,
    image: String,
    old: Option<Color>,
    new: Color,
    before: Weights,
    strategy: String,
    steps: Vec<StepRecord>,
    health_timeout_ms: u64,
    post_bake_ms: u64,
    termination_wait_ms: u64,
    scale_down: bool,
    desired: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    approval_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_requested: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan_artifact: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unsafe_plan_allowed: Vec<String>,
}

impl From<Start> for StartRecord {
    fn from(s: Start) -> StartRecord {
        let spec = s.spec;
        StartRecord {
            command: s.command.to_record(),
            user: s.user,
            host: s.host,
            pid: s.pid,
            image: spec.image,
            old: spec.old,
            new: spec.new,
            before: s.before,
            strategy: spec.strategy,
            steps: steps_of(&spec.schedule),
            health_timeout_ms: millis(spec.health_timeout),
            post_bake_ms: millis(spec.post_bake),
            termination_wait_ms: millis(spec.termination_wait),
            scale_down: spec.scale_down,
            desired: spec.desired,
            approval_required: spec.approval.required,
            image_requested: spec.image_requested,
            plan_artifact: s.plan_artifact,
            unsafe_plan_allowed: s.unsafe_plan_allowed,
        }
    }
}

impl From<StartRecord> for Start {
    fn from(r: StartRecord) -> Start {
        let ms = Duration::from_millis;
        Start {
            command: CommandKind::from_record(r.command),
            user: r.user,
            host: r.host,
            pid: r.pid,
            before: r.before,
            spec: DeploymentSpec {
                image: r.image,
                image_requested: r.image_requested,
                old: r.old,
                new: r.new,
                strategy: r.strategy,
                schedule: recorded_schedule(&r.steps),
                health_timeout: ms(r.health_timeout_ms),
                // Not journaled: `resume` takes it from today's file.
                poll_interval: Duration::ZERO,
                post_bake: ms(r.post_bake_ms),
                termination_wait: ms(r.termination_wait_ms),
                scale_down: r.scale_down,
                desired: r.desired,
                approval: Gate {
                    required: r.approval_required,
                    wait: Duration::ZERO,
                },
                signals: Vec::new(),
                until: None,
            },
            plan_artifact: r.plan_artifact,
            unsafe_plan_allowed: r.unsafe_plan_allowed,
        }
    }
}

/// A duration as the records spell it: whole milliseconds.
pub fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Who approved production traffic for a deployment (`bluegreen approve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who: `--by`, or else the caller identity.
    pub by: String,
    /// The caller identity from STS (`GetCallerIdentity`'s ARN); `None` when STS was not
    /// reachable and `--by` was taken on trust.
    pub identity: Option<String>,
    pub comment: Option<String>,
    /// The local user and host `approve` ran as.
    pub user: String,
    pub host: String,
}

impl fmt::Display for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.by)?;
        match &self.identity {
            Some(id) if *id != self.by => write!(f, " (identity {id})")?,
            Some(_) => {}
            None => write!(f, " (unverified: STS unavailable)")?,
        }
        if let Some(c) = &self.comment {
            write!(f, ": \"{c}\"")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Entry {
    /// `deploy` started: the plan it will carry out.
    Started(Start),
    /// `rollback` started: production goes from `from` to all on `to`.
    RollbackStarted {
        user: String,
        host: String,
        pid: u32,
        from: Weights,
        to: Color,
        /// The interrupted or running deployment this rollback ends, if any.
        ends: Option<String>,
        /// `rollback --force`: the target's signals that were failing when it moved traffic
        /// anyway. Absent when none was (and in records written before `--force` existed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        forced: Vec<Overridden>,
    },
    /// This command took over a stale lock.
    LockTakenOver {
        previous: super::LockInfo,
        reason: String,
    },
    /// `unlock --force` removed this deployment's lock.
    LockForced {
        by: String,
        lock: super::LockInfo,
    },
    /// `resume` continues this deployment.
    Resumed {
        user: String,
        host: String,
        pid: u32,
        /// What the live weights were when it resumed.
        weights: Weights,
    },
    Provisioning {
        color: Color,
    },
    Provisioned {
        color: Color,
        cluster: String,
        service: String,
        task_definition: String,
    },
    ScaledUp {
        color: Color,
        desired: u32,
    },
    /// Every signal passed with test traffic only.
    Settled,
    /// Production traffic waits for `bluegreen approve`; this process waits `wait_ms` for it.
    AwaitingApproval {
        wait_ms: u64,
    },
    /// `bluegreen approve` approved production traffic.
    Approved(Approval),
    /// `deploy --until` (or `resume --until`) stopped here; `resume` continues.
    Stopped {
        at: String,
    },
    /// About to write these weights to every production route (`step` of the schedule; none
    /// for a rollback).
    WeightsIntent {
        weights: Weights,
        step: Option<usize>,
    },
    /// Every production route read back these weights.
    WeightsVerified {
        weights: Weights,
        step: Option<usize>,
    },
    /// The write or the read-back failed; the rollback that follows is journaled too.
    WeightsFailed {
        weights: Weights,
        error: String,
    },
    /// The step's bake passed with every signal healthy.
    BakePassed {
        step: usize,
    },
    Paused {
        step: usize,
    },
    /// A pause was continued (`promote`).
    Continued {
        step: usize,
    },
    /// 100 % verified: the post-promotion bake starts.
    PostBake,
    /// The post-promotion bake passed; the termination wait starts.
    TerminationWait,
    ScaleDownIntent {
        color: Color,
    },
    ScaledDown {
        color: Color,
    },
    ScaleDownFailed {
        color: Color,
        error: String,
    },
    /// About to put traffic back on `to`.
    RollbackIntent {
        to: Weights,
        signal: String,
        observed: String,
        during: String,
    },
    Restored {
        weights: Weights,
    },
    RestoreFailed {
        error: String,
    },
    /// The end. No record follows it.
    Finished {
        outcome: FinalOutcome,
        detail: String,
        failing_signal: Option<String>,
    },
}

/// A failing signal `rollback --force` moved traffic past: its name and what it read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overridden {
    /// `ecs-service`, `target-health`, `alarm:NAME`, `http:NAME`.
    pub signal: String,
    pub observed: String,
}

impl fmt::Display for Overridden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.signal, self.observed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalOutcome {
    /// All traffic on the new color, verified.
    Deployed,
    /// Nothing to do (the image was already live).
    AlreadyLive,
    /// `rebuild` without `--swap`: the idle color was re-created and passed every signal with
    /// test traffic only; production traffic never moved.
    Rebuilt,
    /// Traffic restored to the previous color, verified.
    RolledBack,
    /// The restore could not be verified.
    RollbackFailed,
    /// Failed before production traffic moved (Terraform, AWS, a refusal).
    Failed,
    /// Stopped acting because someone else moved the traffic or took the lock.
    Abandoned,
}

impl FinalOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalOutcome::Deployed => "deployed",
            FinalOutcome::AlreadyLive => "already-live",
            FinalOutcome::Rebuilt => "rebuilt",
            FinalOutcome::RolledBack => "rolled-back",
            FinalOutcome::RollbackFailed => "rollback-failed",
            FinalOutcome::Failed => "failed",
            FinalOutcome::Abandoned => "abandoned",
        }
    }
}

impl Start {
    /// The recorded schedule, checked.
    pub fn schedule(&self) -> Result<Schedule, String> {
        self.spec.schedule.checked().map_err(|e| e.to_string())
    }
}

/// The schedule `steps` record, unchecked ([`Schedule::recorded`]).
pub fn recorded_schedule(steps: &[StepRecord]) -> Schedule {
    Schedule::recorded(
        steps
            .iter()
            .map(|s| match *s {
                StepRecord::Weight { percent, bake_ms } => Step::Weight {
                    percent,
                    bake: Duration::from_millis(bake_ms),
                },
                StepRecord::Pause => Step::Pause,
            })
            .collect(),
    )
}

/// `schedule` as the records keep it (exact milliseconds).
pub fn steps_of(schedule: &Schedule) -> Vec<StepRecord> {
    schedule
        .steps()
        .iter()
        .map(|s| match *s {
            Step::Weight { percent, bake } => StepRecord::Weight {
                percent,
                bake_ms: millis(bake),
            },
            Step::Pause => StepRecord::Pause,
        })
        .collect()
}

/// The fix printed with every corruption error.
pub const REPAIR_FIX: &str = "see \"A corrupt journal\" in docs/operations.md: keep a copy, \
     then `bluegreen journal repair --env ENV --deployment ID` moves the damaged records aside";

/// Parses a deployment's journal text (the local backend's file), checking every line.
pub fn parse_lines(
    text: &str,
    deployment: &str,
    location: &str,
) -> Result<Vec<Record>, StoreError> {
    let corrupt = |line: usize, problem: String| StoreError::Corrupt {
        location: format!("{location}:{line}"),
        problem,
        fix: REPAIR_FIX.into(),
    };
    let mut records = Vec::new();
    let mut rest = text;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.find('\n') else {
            return Err(corrupt(
                line_no,
                format!(
                    "the last line is cut off ({} bytes, no newline): a write was interrupted",
                    rest.len()
                ),
            ));
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        records
            .push(parse_record(line, deployment, line_no as u64).map_err(|p| corrupt(line_no, p))?);
    }
    Ok(records)
}

/// Checks one record document: JSON, schema version, deployment, sequence number.
pub fn parse_record(doc: &str, deployment: &str, expected_seq: u64) -> Result<Record, String> {
    let value: serde_json::Value = serde_json::from_str(doc).map_err(|e| {
        format!(
            "not a journal record ({e}): {}",
            doc.chars().take(60).collect::<String>()
        )
    })?;
    match value.get("schema").and_then(|v| v.as_u64()) {
        Some(v) if v == SCHEMA_VERSION as u64 => {}
        Some(v) => {
            return Err(format!(
                "schema version {v}; this bluegreen reads version {SCHEMA_VERSION} (use the bluegreen release that wrote it)"
            ))
        }
        None => return Err("the record has no schema version".into()),
    }
    let record: Record = serde_json::from_value(value)
        .map_err(|e| format!("the record does not match schema {SCHEMA_VERSION}: {e}"))?;
    if record.deployment != deployment {
        return Err(format!(
            "the record belongs to deployment {}, not {deployment}",
            record.deployment
        ));
    }
    if record.seq != expected_seq {
        return Err(format!(
            "record number {} where {expected_seq} was expected (a record is missing or repeated)",
            record.seq
        ));
    }
    Ok(record)
}

mod summary;
pub use summary::{describe, Approved, Progress, Summary};

/// Appends records of one deployment, numbering them.
pub struct Writer {
    deployment: String,
    next_seq: u64,
    fence: Option<u64>,
}

impl Writer {
    /// A writer for a new deployment.
    pub fn new(deployment: &str) -> Writer {
        Writer {
            deployment: deployment.to_string(),
            next_seq: 1,
            fence: None,
        }
    }

    /// A writer that continues `records` (for `resume`, `rollback` ending a deployment, and
    /// `unlock`).
    pub fn continuing(deployment: &str, records: &[Record]) -> Writer {
        Writer {
            deployment: deployment.to_string(),
            next_seq: records.len() as u64 + 1,
            fence: None,
        }
    }

    /// Every record this writer appends carries `fence`, the token of the lock it holds: the
    /// store refuses them once the lock is someone else's.
    pub fn fenced(mut self, fence: u64) -> Writer {
        self.fence = Some(fence);
        self
    }

    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// Appends `entry` durably. Only after this returns may the step it announces act.
    pub async fn write(&mut self, store: &Store, entry: Entry) -> Result<(), StoreError> {
        let at_ms = super::now_ms();
        let record = Record {
            schema: SCHEMA_VERSION,
            deployment: self.deployment.clone(),
            seq: self.next_seq,
            at_ms,
            at: rfc3339(at_ms),
            entry,
            fence: self.fence,
        };
        store.append(&record).await?;
        self.next_seq += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, entry: Entry) -> Record {
        Record {
            schema: SCHEMA_VERSION,
            deployment: "d1".into(),
            seq,
            at_ms: 1000 * seq,
            at: rfc3339(1000 * seq),
            entry,
            fence: None,
        }
    }

    fn start() -> Start {
        Start {
            command: CommandKind::Deploy,
            user: "ci".into(),
            host: "h".into(),
            pid: 1,
            before: Weights::all_on(Color::Blue),
            spec: DeploymentSpec {
                image: "app:2".into(),
                image_requested: None,
                old: Some(Color::Blue),
                new: Color::Green,
                strategy: "canary".into(),
                schedule: recorded_schedule(&[
                    StepRecord::Weight {
                        percent: 20,
                        bake_ms: 3000,
                    },
                    StepRecord::Weight {
                        percent: 100,
                        bake_ms: 0,
                    },
                ]),
                health_timeout: Duration::from_millis(1000),
                poll_interval: Duration::ZERO,
                post_bake: Duration::ZERO,
                termination_wait: Duration::ZERO,
                scale_down: true,
                desired: 2,
                approval: Gate::default(),
                signals: vec![],
                until: None,
            },
            plan_artifact: None,
            unsafe_plan_allowed: vec![],
        }
    }

    /// `started` records as the code before `DeploymentSpec` wrote them (every optional field
    /// absent, and every one present): read and written again, byte for byte.
    const OLD_STARTED: [&str; 4] = [
        r#"{"schema":1,"deployment":"d1","seq":1,"at_ms":1000,"at":"1970-01-01T00:00:01Z","entry":{"type":"started","user":"ci","host":"h","pid":7,"image":"app:2","old":"blue","new":"green","before":{"blue":100,"green":0},"strategy":"canary","steps":[{"kind":"weight","percent":20,"bake_ms":3000},{"kind":"pause"},{"kind":"weight","percent":100,"bake_ms":0}],"health_timeout_ms":600000,"post_bake_ms":0,"termination_wait_ms":300000,"scale_down":true,"desired":2},"fence":3}"#,
        r#"{"schema":1,"deployment":"d2","seq":1,"at_ms":1,"at":"x","entry":{"type":"started","command":"apply","user":"ci","host":"h","pid":7,"image":"r@sha256:ab","old":null,"new":"blue","before":{"blue":0,"green":0},"strategy":"all-at-once","steps":[{"kind":"weight","percent":100,"bake_ms":0}],"health_timeout_ms":1,"post_bake_ms":2,"termination_wait_ms":3,"scale_down":false,"desired":1,"approval_required":true,"image_requested":"r:1","plan_artifact":"sha256:cd","unsafe_plan_allowed":["delete x [other-stack]: y"]}}"#,
        r#"{"schema":1,"deployment":"d3","seq":1,"at_ms":1,"at":"x","entry":{"type":"started","command":"rebuild --swap","user":"u","host":"h","pid":1,"image":"i","old":"green","new":"blue","before":{"blue":0,"green":100},"strategy":"steps","steps":[],"health_timeout_ms":0,"post_bake_ms":0,"termination_wait_ms":0,"scale_down":true,"desired":0}}"#,
        r#"{"schema":1,"deployment":"d4","seq":1,"at_ms":1,"at":"x","entry":{"type":"started","command":"something newer","user":"u","host":"h","pid":1,"image":"i","old":"green","new":"blue","before":{"blue":0,"green":100},"strategy":"linear","steps":[{"kind":"weight","percent":100,"bake_ms":1}],"health_timeout_ms":0,"post_bake_ms":0,"termination_wait_ms":0,"scale_down":false,"desired":3}}"#,
    ];

    #[test]
    fn started_records_of_schema_1_are_rewritten_byte_for_byte() {
        for line in OLD_STARTED {
            let r: Record = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&r).unwrap(), line);
        }
    }

    #[test]
    fn a_started_record_reads_as_its_spec() {
        let r: Record = serde_json::from_str(OLD_STARTED[1]).unwrap();
        let Entry::Started(s) = r.entry else {
            panic!("not started")
        };
        assert_eq!(s.command, CommandKind::Apply);
        assert_eq!(s.spec.image, "r@sha256:ab");
        assert_eq!(s.spec.image_requested.as_deref(), Some("r:1"));
        assert_eq!(s.spec.old, None);
        assert_eq!(s.spec.post_bake, Duration::from_millis(2));
        assert!(s.spec.approval.required);
        // Not journaled: unset, for `resume` to take from today's file.
        assert_eq!(s.spec.approval.wait, Duration::ZERO);
        assert!(s.spec.signals.is_empty());
        // A schedule is read as recorded and checked by whoever carries it out.
        let r: Record = serde_json::from_str(OLD_STARTED[2]).unwrap();
        let Entry::Started(s) = r.entry else {
            panic!("not started")
        };
        assert_eq!(s.command, CommandKind::RebuildSwap);
        assert!(s.schedule().is_err());
    }

    #[test]
    fn command_kinds_are_spelled_as_before() {
        for (kind, text) in [
            (CommandKind::Deploy, None),
            (CommandKind::Apply, Some("apply")),
            (CommandKind::Rebuild, Some("rebuild")),
            (CommandKind::RebuildSwap, Some("rebuild --swap")),
        ] {
            assert_eq!(kind.to_record().as_deref(), text);
            assert_eq!(CommandKind::from_record(text.map(str::to_string)), kind);
        }
    }

    fn text(records: &[Record]) -> String {
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect()
    }

    fn journal() -> Vec<Record> {
        let w = Weights {
            blue: 80,
            green: 20,
        };
        vec![
            rec(1, Entry::Started(start())),
            rec(2, Entry::Settled),
            rec(
                3,
                Entry::WeightsIntent {
                    weights: w,
                    step: Some(0),
                },
            ),
            rec(
                4,
                Entry::WeightsVerified {
                    weights: w,
                    step: Some(0),
                },
            ),
        ]
    }

    #[test]
    fn a_journal_round_trips_and_folds() {
        let records = journal();
        let parsed = parse_lines(&text(&records), "d1", "j").unwrap();
        assert_eq!(parsed, records);
        let s = Summary::of(&parsed).unwrap();
        assert_eq!(s.outcome, None);
        assert_eq!(
            s.last_verified,
            Some(Weights {
                blue: 80,
                green: 20
            })
        );
        assert_eq!(s.step, "step 1: blue 80 / green 20 verified");
        let p = Progress::of(&parsed).unwrap();
        assert_eq!(
            p.verified,
            Some((
                Weights {
                    blue: 80,
                    green: 20
                },
                Some(0)
            ))
        );
        assert_eq!(p.pending, None);
        assert_eq!(p.start.schedule().unwrap().steps().len(), 2);
    }

    #[test]
    fn resume_is_possible_from_the_verified_or_the_announced_weights_on_every_route() {
        let mut records = journal();
        let (v, p) = (
            Weights {
                blue: 80,
                green: 20,
            },
            Weights::all_on(Color::Green),
        );
        let other = Weights {
            blue: 50,
            green: 50,
        };
        assert!(Progress::of(&records).unwrap().can_resume(&[v, v, v]));
        assert!(
            !Progress::of(&records).unwrap().can_resume(&[v, p, v]),
            "nothing announced"
        );
        records.push(rec(
            5,
            Entry::WeightsIntent {
                weights: p,
                step: Some(1),
            },
        ));
        let prog = Progress::of(&records).unwrap();
        assert!(prog.can_resume(&[p, p, p]));
        assert!(prog.can_resume(&[p, v, v]), "died between two routes");
        assert!(!prog.can_resume(&[p, other, v]), "someone else moved one");
        assert!(!prog.can_resume(&[]));
        records.push(rec(
            6,
            Entry::RollbackIntent {
                to: Weights::all_on(Color::Blue),
                signal: "s".into(),
                observed: "o".into(),
                during: "d".into(),
            },
        ));
        assert!(Progress::of(&records).unwrap().can_resume(&[other, other]));
    }

    #[test]
    fn an_intent_without_outcome_is_pending() {
        let mut records = journal();
        let w = Weights::all_on(Color::Green);
        records.push(rec(
            5,
            Entry::WeightsIntent {
                weights: w,
                step: Some(1),
            },
        ));
        let p = Progress::of(&records).unwrap();
        assert_eq!(p.pending, Some((w, Some(1))));
    }

    fn corrupt_problem(text: &str) -> String {
        match parse_lines(text, "d1", "journal/d1.jsonl") {
            Err(StoreError::Corrupt {
                location, problem, ..
            }) => format!("{location}: {problem}"),
            other => panic!("not detected: {other:?}"),
        }
    }

    #[test]
    fn a_cut_last_line_is_detected() {
        let t = text(&journal());
        let cut = &t[..t.len() - 10];
        let p = corrupt_problem(cut);
        assert!(
            p.starts_with("journal/d1.jsonl:4: the last line is cut off"),
            "{p}"
        );
    }

    #[test]
    fn garbage_appended_is_detected() {
        let p = corrupt_problem(&(text(&journal()) + "\u{0}\u{0}garbage\n"));
        assert!(
            p.starts_with("journal/d1.jsonl:5: not a journal record"),
            "{p}"
        );
        let p = corrupt_problem(&(text(&journal()) + "xx"));
        assert!(p.contains(":5: the last line is cut off"), "{p}");
    }

    #[test]
    fn another_schema_version_is_refused() {
        let t = text(&journal()).replacen("\"schema\":1", "\"schema\":2", 1);
        let p = corrupt_problem(&t);
        assert!(
            p.contains(":1: schema version 2; this bluegreen reads version 1"),
            "{p}"
        );
    }

    #[test]
    fn missing_repeated_or_foreign_records_are_detected() {
        let mut r = journal();
        r.remove(2);
        assert!(corrupt_problem(&text(&r)).contains("record number 4 where 3 was expected"));
        let t = text(&journal()).replace("\"d1\"", "\"d2\"");
        assert!(corrupt_problem(&t).contains("belongs to deployment d2"));
        let t = text(&journal()).replacen("\"type\":\"settled\"", "\"type\":\"frobnicated\"", 1);
        assert!(corrupt_problem(&t).contains(":2: the record does not match schema 1"));
    }

    #[test]
    fn a_finished_deploy_has_outcome_and_duration() {
        let mut r = journal();
        r.push(rec(
            5,
            Entry::Finished {
                outcome: FinalOutcome::RolledBack,
                detail: "alarm".into(),
                failing_signal: Some("alarm:x".into()),
            },
        ));
        let s = Summary::of(&r).unwrap();
        assert_eq!(s.outcome, Some(FinalOutcome::RolledBack));
        assert_eq!(s.duration_ms, Some(4000));
        assert_eq!(s.failing_signal.as_deref(), Some("alarm:x"));
    }

    #[test]
    fn a_rollback_started_record_without_force_reads_and_rewrites_byte_for_byte() {
        // As schema 1 wrote it before `--force` existed (docs/operations.md).
        let old = r#"{"schema":1,"deployment":"20261124T151749Z-61c1","seq":1,"at_ms":1795533470144,"at":"2026-11-24T15:17:50.144Z","entry":{"type":"rollback-started","user":"ci","host":"vm","pid":29035,"from":{"blue":50,"green":50},"to":"green","ends":"20261124T151731Z-c26b"}}"#;
        let r = parse_record(old, "20261124T151749Z-61c1", 1).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), old);
        let s = Summary::of(&[r]).unwrap();
        assert!(s.forced.is_empty() && s.events.is_empty());
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("forced").is_none(), "{json}");
    }

    #[test]
    fn a_forced_rollback_records_the_failing_signals_and_history_shows_them() {
        let forced = vec![Overridden {
            signal: "alarm:app-blue-5xx".into(),
            observed: "ALARM set by the test".into(),
        }];
        let r = rec(
            1,
            Entry::RollbackStarted {
                user: "ci".into(),
                host: "h".into(),
                pid: 1,
                from: Weights::all_on(Color::Green),
                to: Color::Blue,
                ends: None,
                forced: forced.clone(),
            },
        );
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.contains(
                r#""forced":[{"signal":"alarm:app-blue-5xx","observed":"ALARM set by the test"}]"#
            ),
            "{line}"
        );
        assert_eq!(parse_record(&line, "d1", 1).unwrap(), r);
        let s = Summary::of(&[r]).unwrap();
        assert_eq!(s.forced, forced);
        assert_eq!(
            s.events,
            vec![format!(
                "{}: forced (`rollback --force`) past failing signals of blue: alarm:app-blue-5xx (ALARM set by the test)",
                rfc3339(1000)
            )]
        );
    }
}
