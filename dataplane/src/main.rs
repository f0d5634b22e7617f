//! `bg-dataplane`: the local data plane for the emulator (docs/dataplane.md).
//!
//! - `bg-dataplane run`: polls the emulator (`AWS_ENDPOINT_URL`), runs each ECS service's tasks as
//!   in-process HTTP servers on loopback, registers them in the service's target group, and
//!   serves every ALB listener on a local socket that routes as the listener's rules say.
//!   Its health checks decide target health and routing, and it evaluates the emulator's metric
//!   alarms against the metrics it publishes.
//! - `bg-dataplane load`: open-loop load through a URL, with a JSON summary, a timeline and an
//!   SVG of traffic share per version and errors over time.
//!
//! Test and demo infrastructure: never part of the `bluegreen` binary.

mod alarms;
mod app;
mod balancer;
mod chart;
mod checks;
mod emulator;
mod health;
mod load;
mod map;
mod metrics;
mod route;
mod run;
mod tasks;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "bg-dataplane",
    version,
    about = "Local data plane for the bluegreen emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run tasks and listeners for everything in the emulator named by AWS_ENDPOINT_URL.
    Run(RunArgs),
    /// Open-loop load through a URL; writes summary.json, timeline.json, requests.jsonl and
    /// traffic.svg into --out.
    Load(LoadArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Where to write the listener → local URL map (JSON).
    #[arg(long, env = "BLUEGREEN_DATAPLANE_MAP")]
    map: PathBuf,
    /// How often to read the emulator's listeners and rules (routing), at most 100ms.
    #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
    route_poll: Duration,
    /// How often to read ECS services and reconcile tasks and targets, at most 100ms.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    task_poll: Duration,
    /// Stop when this process is gone (the emulator, or the test that started us).
    #[arg(long)]
    exit_with_pid: Option<u32>,
    /// Stop when the emulator has not answered for this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    emulator_gone_after: Duration,
    /// Longest wait for a stopping task's in-flight requests (deregistration delay).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
    /// Period of the ALB metrics put into the emulator's CloudWatch (AWS/ApplicationELB): 60s as
    /// on AWS, 1s (high resolution) for tests; 0 publishes nothing.
    #[arg(long, env = "BG_DATAPLANE_METRICS_PERIOD", default_value = "60s", value_parser = humantime::parse_duration)]
    metrics_period: Duration,
    /// Where to write the health the data plane's checks observe per target (JSON, atomic
    /// rename): the strict launcher answers DescribeTargetHealth from it when the emulator runs
    /// with the same path in BLUEGREEN_TARGET_HEALTH_FILE (docs/dataplane.md). Without it the
    /// checks still decide routing, but the emulator answers target health itself.
    #[arg(long, env = "BLUEGREEN_TARGET_HEALTH_FILE")]
    target_health_file: Option<PathBuf>,
    /// How often the emulator's metric alarms are evaluated against its CloudWatch metrics
    /// (SetAlarmState on a transition); 0 evaluates none.
    #[arg(long, env = "BG_DATAPLANE_ALARM_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    alarm_interval: Duration,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The URL to send GET requests to (a listener's local URL, plus any path). Repeated: the
    /// requests take the URLs in turn (request i goes to URL i mod n), so that two paths are
    /// measured side by side under the same conditions; the summary then has one entry per URL
    /// (`by_url`) and each request its URL's index (`url`).
    #[arg(long, required = true)]
    url: Vec<String>,
    /// Requests per second over all URLs, sent on a fixed schedule whatever the answers'
    /// latency (open loop).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// How long to send.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Duration,
    /// A request with no answer after this long counts as failed (status 0).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Timeline bucket width.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    bucket: Duration,
    /// Output directory (created).
    #[arg(long)]
    out: PathBuf,
    /// Print a live line per bucket on stderr.
    #[arg(long)]
    live: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The load generator runs on one thread: its timer, its sends and its answers then never
    // hand a request from one thread to another (with worker threads, a profile at 1,000 req/s
    // showed most of its time in the kernel switching threads, not in sending; docs/dataplane.md,
    // "Overhead").
    let mut builder = match cli.command {
        Command::Run(_) => tokio::runtime::Builder::new_multi_thread(),
        Command::Load(_) => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bg-dataplane: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Load(args) => runtime.block_on(load::load(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bg-dataplane: error: {e}");
            ExitCode::FAILURE
        }
    }
}
