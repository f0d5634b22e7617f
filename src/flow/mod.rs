//! The application layer: the shared async steps every command is built from, each in its own
//! file. Commands call these; these call the core (`crate::domain`) and the adapters.

pub mod context;
pub mod drive;
pub mod idle;
pub mod interrupt;
pub mod judge;
pub mod known_good;
pub mod outputs;
pub mod planfile;
pub mod provision;
pub mod readiness;
pub mod readings;
pub mod recorded;
pub mod restore;
pub mod routes;
pub mod run;
pub mod session;
pub mod spec;
pub mod staleness;
pub mod target;
pub mod traffic;

#[cfg(test)]
pub(crate) mod fakes;
