//! bluegreen: blue/green deployments of ECS services behind an ALB, driven by
//! OpenTofu/Terraform. The binary in `main.rs` is a thin shell around [`run`].

pub mod artifact;
pub mod aws;
mod canonical;
pub mod cli;
pub(crate) mod commands;
pub mod config;
pub mod contract;
pub mod domain;
pub(crate) mod error;
pub mod exit;
pub(crate) mod flow;
pub mod health;
pub mod iac;
pub mod input;
pub(crate) mod report;
pub mod state;
pub(crate) mod workdir;

pub use commands::run;
