//! The deploy core: reading and moving traffic, health checks of a color, and the stack outputs
//! the flow needs. The command flows themselves are in `crate::commands`.

mod health;
mod machine;
mod outputs;
mod signals;
mod strategy;
mod traffic;

pub use health::{service_stable, targets_healthy, Check};
pub use machine::{
    split, Action, Checkpoint, Event, Failure, Machine, Note, Outcome, Phase, Plan, Until,
};
pub use outputs::{ServiceOutputs, SharedOutputs};
pub use signals::{readiness, verdict, Readiness, Reading, Stage, Status, Verdict};
pub use strategy::{Schedule, ScheduleError, Step, Strategy, WorstCase};
pub use traffic::{
    matches, read_view, set_all_and_verify, set_and_verify, verify_all, view_of, write_view,
    ListenerView, TargetGroups, TrafficError,
};
