//! The deploy core: reading and moving traffic, health checks of a color, and the stack outputs
//! the flow needs. The command flows themselves are in `crate::commands`.

mod health;
mod outputs;
mod strategy;
mod traffic;

pub use health::{failing, service_stable, targets_healthy, Check};
pub use outputs::{ServiceOutputs, SharedOutputs};
pub use strategy::{Schedule, ScheduleError, Step, Strategy, WorstCase};
pub use traffic::{read_view, set_and_verify, view_of, ListenerView, TargetGroups, TrafficError};
