//! Environment file → typed, validated config. See docs/configuration.md.

mod blocks;
mod error;
mod model;
mod parse;
mod paths;
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
pub use model::{
    AlarmSignal, ApprovalSettings, EnvConfig, HealthSettings, HttpCheck, IacBinary, IacSettings,
    JournalBackend, JournalSettings, NoData, OldColor, PlanSafetySettings, PromotionSettings,
    ServiceSettings, StackSettings, StateSeparation, StateSettings, TrafficSettings, ENV_FILE,
    RESERVED_SERVICE_VARS,
};
pub use parse::{load, load_str};
pub use paths::resolve_env;
pub use spec::parse_strategy_spec;
