//! The outputs record: each stack's outputs, sensitive values redacted, with the serial and
//! lineage of the state they came from, in `<work>/<env>/outputs/<stack>.json` (replaced
//! atomically). Written whenever bluegreen reads a stack's outputs through Terraform, which it
//! does after every apply; forgotten before every apply, so a crash mid-apply leaves none.
//!
//! Two ways to read outputs (docs/architecture.md, "The outputs record"):
//! - **recorded** (`status`, `rollback`): the record, launching no Terraform, unless the
//!   record is missing, was made for another state location, needs a sensitive contract
//!   output, or — for a `local` backend, whose state file is read directly — the state's
//!   serial or lineage moved since. Then once through Terraform, recorded, and said so.
//! - **checked** (`deploy`, `plan`, `apply`, `rebuild`, `resume`, `drift`): the stack is
//!   prepared (free when its data dir is warm); the record serves when the state provably did
//!   not move (a `local` backend: serial and lineage from its file), else one `state pull`
//!   (outputs + serial), compared with the record and said so when the state moved.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::color::Color;
use crate::error::Error;
use crate::flow::context::{Ctx, StackId};
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::iac::{redact_plan_json, IacTool, Outputs, Stack, StateMeta, REDACTED};

const FORMAT: u32 = 1;

/// The outputs the contract (docs/contract.md) needs. A record cannot serve one of them when
/// it is sensitive: the record holds `<redacted>` in its place.
const CONTRACT: &[&str] = &[
    "listener_arn",
    "test_listener_arn",
    "target_group_arns",
    "cluster_name",
    "extra_listener_arns",
    "rule_arns",
    "service_name",
    "target_group_arn",
    "task_definition_arn",
    "image",
    "color",
];

#[derive(Serialize, Deserialize)]
struct Record {
    format: u32,
    stack: String,
    /// Which state this is (hash of root, workspace, backend configuration).
    location: String,
    /// `None`: the stack had no state (never applied) when it was read.
    state: Option<StateMeta>,
    /// Redacted where sensitive (`Outputs`' `Serialize`).
    outputs: Outputs,
}

/// How a command reads outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The record when it can serve, without Terraform (`status`, `rollback`).
    Recorded,
    /// The record only when the state provably did not move since (a `local` backend's
    /// serial and lineage, read from its file), else Terraform; the stack is prepared either
    /// way (every other command).
    Checked,
    /// Through Terraform, whatever the record says (a record AWS contradicted).
    Terraform,
}

/// Hash of what names a stack's state: root, workspace, backend configuration (which may
/// hold credentials, so it is hashed, never stored).
fn location(stack: &Stack) -> String {
    let mut h = Sha256::new();
    for part in [
        stack.dirs.root.to_string_lossy().as_ref(),
        stack.workspace_name(),
    ]
    .into_iter()
    .chain(
        stack
            .backend_config
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
    ) {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// `outputs` as a record may hold them: sensitive values redacted, and every copy of one
/// inside another output too (`iac::redact`, the same scrub as a plan's).
fn redacted(outputs: &Outputs) -> Outputs {
    let raw: serde_json::Map<String, serde_json::Value> = outputs
        .names()
        .filter_map(|n| outputs.get(n).map(|o| (n, o)))
        .map(|(n, o)| {
            let entry = serde_json::json!({
                "sensitive": o.sensitive, "type": o.value_type, "value": o.value()
            });
            (n.to_owned(), entry)
        })
        .collect();
    let doc = redact_plan_json(&serde_json::json!({ "planned_values": { "outputs": raw } }));
    serde_json::from_value(doc["planned_values"]["outputs"].clone()).unwrap_or_default()
}

/// The first contract output the record cannot serve: sensitive, or scrubbed (it held a
/// copy of a sensitive value).
fn unservable(outputs: &Outputs) -> Option<&'static str> {
    CONTRACT.iter().copied().find(|n| {
        outputs.is_sensitive(n)
            || outputs
                .get(n)
                .is_some_and(|o| o.value().to_string().contains(REDACTED))
    })
}

fn serial(meta: Option<&StateMeta>) -> String {
    meta.map_or("none".into(), |m| m.serial.to_string())
}

impl Ctx {
    /// Says something about where outputs came from: a progress line for people, a log line
    /// when stdout is JSON (it must stay one document or clean JSON lines).
    fn say_outputs(&self, message: String) {
        if self.out.is_json() {
            tracing::warn!("{message}");
        } else {
            self.info(message);
        }
    }

    fn load_record(&self, stack: &Stack, id: StackId) -> Option<Record> {
        let path = self.work.outputs_record(id.name());
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<Record>(&bytes) {
            Ok(r) if r.format == FORMAT && r.location == location(stack) => Some(r),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(
                    "ignoring the unreadable outputs record {}: {e}",
                    path.display()
                );
                None
            }
        }
    }

    fn save_record(&self, stack: &Stack, id: StackId, state: Option<StateMeta>, outputs: &Outputs) {
        let record = Record {
            format: FORMAT,
            stack: id.name().to_owned(),
            location: location(stack),
            state,
            outputs: redacted(outputs),
        };
        let path = self.work.outputs_record(id.name());
        let written = serde_json::to_vec_pretty(&record)
            .map_err(|e| e.to_string())
            .and_then(|bytes| crate::state::local::atomic_write(&path, &bytes));
        if let Err(e) = written {
            // Only costs the next read-only command one Terraform read.
            tracing::warn!("cannot write the outputs record {}: {e}", path.display());
        }
    }

    /// Forgets a stack's record: call before anything applies the stack.
    pub fn forget_outputs(&self, id: StackId) {
        let _ = std::fs::remove_file(self.work.outputs_record(id.name()));
    }

    /// The stack's outputs and state through Terraform (`state pull`, after `prepare`), then
    /// recorded; says so when the state moved since the record. Call after the stack is
    /// prepared.
    pub async fn terraform_outputs(&self, stack: &Stack, id: StackId) -> Result<Outputs, Error> {
        let (state, outputs) = stack.state_outputs().await?;
        let name = id.name();
        match self.load_record(stack, id) {
            None => self.say_outputs(format!(
                "outputs of the {name} stack read through Terraform (state serial {}) and recorded",
                serial(state.as_ref())
            )),
            Some(r) if r.state != state => self.say_outputs(format!(
                "the {name} stack's state moved since bluegreen recorded its outputs (serial {} → \
                 {}): outputs re-read through Terraform",
                serial(r.state.as_ref()),
                serial(state.as_ref())
            )),
            Some(_) => tracing::info!("{name} stack: state unchanged since the outputs record"),
        }
        self.save_record(stack, id, state, &outputs);
        Ok(outputs)
    }

    /// The record's outputs when it may serve a read-only command: `None` when there is none
    /// (said why) or it may be stale.
    fn usable_record(&self, stack: &Stack, id: StackId) -> Option<Outputs> {
        let name = id.name();
        let Some(record) = self.load_record(stack, id) else {
            self.say_outputs(format!(
                "no outputs record for the {name} stack yet (it was applied before bluegreen \
                 kept one, or elsewhere): reading them through Terraform once"
            ));
            return None;
        };
        match stack.local_state_meta() {
            Some(now) if now != record.state => {
                self.say_outputs(format!(
                    "the {name} stack's state moved since bluegreen recorded its outputs (serial \
                     {} → {}): reading them through Terraform",
                    serial(record.state.as_ref()),
                    serial(now.as_ref())
                ));
                return None;
            }
            // Not checkable without Terraform (a remote backend): "no state" is not trusted,
            // outputs are (every ARN is verified against AWS by its reader; docs).
            None if record.state.is_none() => return None,
            _ => {}
        }
        if let Some(n) = unservable(&record.outputs) {
            tracing::info!("{name} stack: output `{n}` is sensitive: not served from the record");
            return None;
        }
        tracing::info!(
            "{name} stack: outputs from the record (state serial {})",
            serial(record.state.as_ref())
        );
        Some(record.outputs)
    }

    /// Outputs of an existing stack: `None` when its workspace does not exist (never applied).
    async fn existing_outputs(
        &self,
        stack: &Stack,
        id: StackId,
        source: Source,
    ) -> Result<Option<Outputs>, Error> {
        if source == Source::Recorded {
            if let Some(outputs) = self.usable_record(stack, id) {
                return Ok(Some(outputs));
            }
        }
        if !stack.prepare_existing(&mut self.tf_progress(id)).await? {
            self.save_record(stack, id, None, &Outputs::default());
            return Ok(None);
        }
        match source {
            Source::Terraform => Ok(Some(self.terraform_outputs(stack, id).await?)),
            _ => Ok(Some(self.checked_outputs(stack, id).await?)),
        }
    }

    /// A prepared stack's outputs: the record's when the state provably did not move since
    /// it was made (no Terraform), else through Terraform.
    async fn checked_outputs(&self, stack: &Stack, id: StackId) -> Result<Outputs, Error> {
        if let Some(record) = self.load_record(stack, id) {
            let unchanged = stack
                .local_state_meta()
                .is_some_and(|now| now.is_some() && now == record.state);
            if unchanged && unservable(&record.outputs).is_none() {
                self.say_outputs(format!(
                    "outputs of the {} stack from the record: its state is unchanged (serial {})",
                    id.name(),
                    serial(record.state.as_ref())
                ));
                return Ok(record.outputs);
            }
        }
        self.terraform_outputs(stack, id).await
    }

    /// Prepares the shared stack (creating its workspace) and reads its outputs: the record's
    /// when the state provably did not move, else through Terraform (`None` before its first
    /// apply).
    pub async fn shared_outputs(
        &self,
        tool: &IacTool,
    ) -> Result<(Stack, Option<SharedOutputs>), Error> {
        let stack = self.stack(tool, StackId::Shared, vec![])?;
        stack
            .prepare(&mut self.tf_progress(StackId::Shared))
            .await?;
        let outs = self.checked_outputs(&stack, StackId::Shared).await?;
        let shared = SharedOutputs::read(&outs).map_err(Error::Contract)?;
        Ok((stack, shared))
    }

    /// Like [`Ctx::shared_outputs`], but creates nothing (no workspace): `None` when the shared
    /// stack has no state here, whether nothing was deployed yet or the state is elsewhere.
    /// `deploy` uses it before it decides on a first deploy. The returned stack is prepared
    /// when its workspace exists.
    pub async fn read_shared(
        &self,
        tool: &IacTool,
    ) -> Result<(Stack, Option<SharedOutputs>), Error> {
        self.shared_from(tool, Source::Checked).await
    }

    /// [`Ctx::read_shared`] through Terraform whatever the record says: for a record AWS
    /// contradicted.
    pub async fn terraform_shared(
        &self,
        tool: &IacTool,
    ) -> Result<(Stack, Option<SharedOutputs>), Error> {
        self.shared_from(tool, Source::Terraform).await
    }

    /// [`Ctx::read_shared`] from the outputs record when it can serve (no Terraform at all);
    /// the returned stack may not be prepared: for `status` and `rollback`, which run no
    /// other Terraform command on it.
    pub async fn recorded_shared(
        &self,
        tool: &IacTool,
    ) -> Result<(Stack, Option<SharedOutputs>), Error> {
        self.shared_from(tool, Source::Recorded).await
    }

    async fn shared_from(
        &self,
        tool: &IacTool,
        source: Source,
    ) -> Result<(Stack, Option<SharedOutputs>), Error> {
        let stack = self.stack(tool, StackId::Shared, vec![])?;
        let shared = match self
            .existing_outputs(&stack, StackId::Shared, source)
            .await?
        {
            Some(outs) => SharedOutputs::read(&outs).map_err(Error::Contract)?,
            None => None,
        };
        Ok((stack, shared))
    }

    /// Outputs of a color's stack if it was ever applied (the record's when the state provably
    /// did not move, else through Terraform), without creating anything: a color whose
    /// workspace does not exist yet reads as `None`. The stack is prepared.
    pub async fn color_outputs(
        &self,
        tool: &IacTool,
        color: Color,
        shared: &SharedOutputs,
    ) -> Result<Option<ServiceOutputs>, Error> {
        self.color_from(tool, color, shared, Source::Checked).await
    }

    /// [`Ctx::color_outputs`] from the outputs record when it can serve (no Terraform).
    pub async fn recorded_color(
        &self,
        tool: &IacTool,
        color: Color,
        shared: &SharedOutputs,
    ) -> Result<Option<ServiceOutputs>, Error> {
        self.color_from(tool, color, shared, Source::Recorded).await
    }

    async fn color_from(
        &self,
        tool: &IacTool,
        color: Color,
        shared: &SharedOutputs,
        source: Source,
    ) -> Result<Option<ServiceOutputs>, Error> {
        let stack = self.service_stack(tool, color, shared, "")?;
        let id = StackId::Color(color);
        match self.existing_outputs(&stack, id, source).await? {
            Some(outs) => ServiceOutputs::read(&outs, color).map_err(Error::Contract),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn back_dsn(text: &str) -> Option<String> {
        let back: Record = serde_json::from_str(text).unwrap();
        back.outputs.get_string("dsn").unwrap()
    }

    #[test]
    fn a_record_never_holds_a_sensitive_value() {
        let outs = Outputs::from_json(
            br#"{"listener_arn": {"sensitive": false, "type": "string", "value": "arn:l"},
                 "db_password": {"sensitive": true, "type": "string", "value": "hunter2-long"},
                 "dsn": {"sensitive": false, "type": "string", "value": "db://u:hunter2-long@h"}}"#,
        )
        .unwrap();
        let record = Record {
            format: FORMAT,
            stack: "shared".into(),
            location: "x".into(),
            state: Some(StateMeta {
                serial: 3,
                lineage: "l".into(),
            }),
            outputs: redacted(&outs),
        };
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let dsn = back_dsn(&text).unwrap();
        assert!(
            dsn.contains(REDACTED) && !dsn.contains("hunter2"),
            "a copy of a secret in another output is scrubbed too: {dsn}"
        );
        let back: Record = serde_json::from_str(&text).unwrap();
        assert!(back.outputs.is_sensitive("db_password"));
        assert_eq!(unservable(&back.outputs), None);
        assert_eq!(
            back.outputs.get_string("listener_arn").unwrap().as_deref(),
            Some("arn:l")
        );
        assert_eq!(back.state.unwrap().serial, 3);
    }
}
