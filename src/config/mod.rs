//! Environment file → typed, validated config. See docs/configuration.md.

mod blocks;
mod error;
mod limits;
mod model;
mod parse;
mod paths;
mod region;
mod schema;
mod signals;
mod source;
mod spec;
mod state;
mod strategy;
#[cfg(test)]
mod tests;
mod value;

pub use error::ConfigError;
pub use limits::{check_flag_duration, DurationLimit, DURATION_LIMITS};
pub use model::{
    AlarmSignal, ApprovalSettings, EnvConfig, HealthSettings, HttpCheck, IacBinary, IacSettings,
    JournalBackend, JournalSettings, NoData, OldColor, PlanSafetySettings, PromotionSettings,
    ServiceSettings, StackSettings, StateSeparation, StateSettings, TrafficSettings, ENV_FILE,
    ENV_NAME_RULE, RESERVED_SERVICE_VARS,
};
pub use parse::{load, load_str};
pub use paths::{env_is_path, resolve_env};
pub use region::{region_conflicts, var_file_region};
pub use spec::parse_strategy_spec;
