//! The core: the domain of a blue/green deployment and the ports it needs. Pure: it imports
//! nothing from the adapters (`aws`, `iac`, `state`, `config`, `artifact`, `health`, `report`),
//! nothing from the application layer (`flow`) or the commands, and no tokio or SDK type
//! (`tests/layering.rs` keeps that true).
//!
//! - `color`: the two colors and a route's weights;
//! - `image`: image reference grammar, registries, a resolved (pinned) image;
//! - `strategy`: strategies → validated schedules;
//! - `spec`: the one description of a deployment (`DeploymentSpec`) and `--until`;
//! - `machine`: the deploy state machine, `(state, event, now) → actions`;
//! - `outcome`: how a deployment ends, and why one is rolled back;
//! - `verdict`: signal readings → verdicts, with the no-data policies;
//! - `health`: the ECS-stability and target-health readings of a color;
//! - `rollback`: where a rollback puts traffic, and how strictly it judges the target;
//! - `routes`: a route's action as the two colors' weights, and what a change must read back as;
//! - `ports`: the traits the core needs from AWS (traffic, services, alarms, images).

pub mod color;
pub mod health;
pub mod image;
pub mod machine;
pub mod outcome;
pub mod ports;
pub mod rollback;
pub mod routes;
pub mod spec;
pub mod strategy;
pub mod verdict;

pub use color::split;
pub use health::{service_stable, targets_healthy, Check};
pub use machine::{Action, Checkpoint, Event, Failure, Machine, Note, Outcome, Phase};
pub use routes::{matches, view_of, ListenerView, TargetGroups, TrafficError};
pub use spec::{DeploymentSpec, Gate, Until};
pub use strategy::{Schedule, ScheduleError, Step, Strategy, WorstCase};
pub use verdict::{readiness, verdict, NoData, Readiness, Reading, Stage, Status, Verdict};
