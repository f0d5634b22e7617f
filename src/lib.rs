//! bluegreen: blue/green deployments of ECS services behind an ALB, driven by
//! OpenTofu/Terraform. The binary in `main.rs` is a thin shell around [`run`].

pub mod artifact;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod contract;
pub mod domain;
pub mod error;
pub mod exit;
pub mod flow;
pub mod health;
pub mod iac;
pub mod input;
pub mod report;
pub mod state;
pub mod workdir;

pub use commands::run;
