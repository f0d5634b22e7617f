//! The integration-test harness, shared by every file in `tests/` as `mod common;`.
//!
//! - [`Emulator`]: a private moto server per test, on a loopback port picked here, stopped on
//!   drop. Also the *independent observer* of AWS state: it reads the emulator with the AWS SDK
//!   directly (never through bluegreen's adapters), so a test checks what really happened.
//! - [`Bluegreen`]: runs the compiled binary against an emulator and a work directory, with a
//!   hard timeout; [`Outcome::assert_code`] prints both streams when the code is wrong.
//! - [`FaultProxy`]: sits between a client and the emulator and injects what moto cannot do
//!   (unhealthy targets, throttling, 5xx, slow answers, stale listener reads); records every
//!   request by AWS operation. [`HttpApp`]: a loopback app whose status, body and latency a test
//!   switches, for HTTP health checks. [`Bluegreen::endpoint`] points the binary at a proxy.
//! - [`state_snapshot`]: the bytes of every Terraform state file under a work directory.
//!
//! Everything is synchronous (helpers own their tokio runtime): write plain `#[test]` fns, not
//! `#[tokio::test]`, because blocking on a runtime from inside another one panics.
//!
//! ```ignore
//! mod common;
//! use common::{Bluegreen, Emulator};
//!
//! #[test]
//! fn deploy_moves_all_traffic() {
//!     let emulator = Emulator::start();
//!     let work = common::temp_workdir();
//!     Bluegreen::new(&emulator, work.path())
//!         .args(["deploy", "--env", "local", "--image", "nginx:1.27"])
//!         .run()
//!         .assert_code(0);
//!     let before = emulator.snapshot();
//!     // ...
//!     common::assert_unchanged(&before, &emulator.snapshot());
//! }
//! ```

// Each test binary uses a different subset of the harness.
#![allow(dead_code)]

mod bluegreen;
mod dataplane;
mod emulator;
mod envs;
mod http_app;
mod observe;
mod proxy;
mod rng;
mod tfstate;
mod views;
mod world;

#[allow(unused_imports)] // each test binary uses a subset
pub use bluegreen::{temp_workdir, Bluegreen, Outcome};
#[allow(unused_imports)]
pub use dataplane::{tg_name, DataPlane, HealthFile, Load, Request};
#[allow(unused_imports)]
pub use emulator::{Emulator, EmulatorBuilder};
#[allow(unused_imports)]
pub use envs::{env_with_var_files, local_env, named_env};
#[allow(unused_imports)]
pub use http_app::HttpApp;
#[allow(unused_imports)]
pub use proxy::{FaultProxy, Recorded};
#[allow(unused_imports)]
pub use rng::Rng;
#[allow(unused_imports)]
pub use tfstate::state_snapshot;
#[allow(unused_imports)]
pub use views::{
    assert_unchanged, ActionView, ClusterView, EmulatorSnapshot, ListenerView, LoadBalancerView,
    RuleView, ServiceView, TargetGroupView, TaskDefinitionView,
};
#[allow(unused_imports)]
pub use world::{files, journal_records, wait_exit, EnvWorld, FAST, LOCAL_LB};
