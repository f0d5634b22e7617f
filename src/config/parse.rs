//! Entry points: read the file, parse it with hcl-edit (which keeps spans), check the top level,
//! parse every block, and report the first error in source order.

use super::blocks::{
    parse_approval, parse_iac, parse_journal, parse_plan_safety, parse_region, parse_service,
    parse_shared, parse_traffic, Cx, TOP,
};
use super::error::{ConfigError, FirstError};
use super::model::{EnvConfig, ENV_FILE};
use super::paths::check_env_name;
use super::paths::{absolute_dir, lexical_absolute};
use super::schema::Section;
use super::signals::parse_health;
use super::source::Source;
use super::state::parse_state;
use super::strategy::{parse_promotion, parse_strategy};
use crate::input::{self, InputError};
use std::path::Path;

/// Reads and validates `<env_dir>/bluegreen.hcl` (a regular file of at most
/// [`input::ENV_FILE_MAX`] bytes, never a FIFO or a device).
pub fn load(env_dir: &Path) -> Result<EnvConfig, ConfigError> {
    let dir = lexical_absolute(env_dir);
    if !dir.is_dir() {
        return Err(ConfigError::NotAnEnvDir {
            path: env_dir.to_owned(),
            is_dir_missing: true,
        });
    }
    let file = dir.join(ENV_FILE);
    let text = input::read_to_string(&file, input::ENV_FILE_MAX).map_err(|e| match e {
        InputError::Missing { .. } => ConfigError::NotAnEnvDir {
            path: env_dir.to_owned(),
            is_dir_missing: false,
        },
        InputError::Io { path, source } => ConfigError::Io { path, source },
        other => ConfigError::EnvFile { source: other },
    })?;
    load_str(&text, &file, &dir)
}

/// Same as [`load`], from a string: `file` is used in messages and `env_dir` to resolve paths.
pub fn load_str(src: &str, file: &Path, env_dir: &Path) -> Result<EnvConfig, ConfigError> {
    let dir = absolute_dir(env_dir);
    let source = Source::new(file, src);
    let body = hcl_edit::parser::parse_body(src).map_err(|e| source.syntax(&e))?;
    // The name comes from the path as given, so a symlinked environment keeps its own name.
    let name = lexical_absolute(env_dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_env_name(&name, Some(&lexical_absolute(env_dir)))?;
    let cx = Cx {
        src: &source,
        dir: &dir,
        name: &name,
    };
    let top = Section::top(&source, &body, TOP)?;

    // Every section is parsed even after one fails, so the error reported is the first in the
    // file rather than the first in this list.
    let mut first = FirstError::default();
    let region = first.keep(parse_region(&top));
    let iac = first.keep(parse_iac(&cx, top.block("iac")));
    let shared = first.keep(
        top.require_block("shared")
            .and_then(|b| parse_shared(&cx, b)),
    );
    let service = first.keep(
        top.require_block("service")
            .and_then(|b| parse_service(&cx, b)),
    );
    let state = first.keep(parse_state(&cx, top.block("state")));
    let health = first.keep(parse_health(&cx, top.block("health")));
    let traffic = first.keep(parse_traffic(&cx, top.block("traffic")));
    let strategy = first.keep(parse_strategy(&cx, top.block("strategy")));
    let promotion = first.keep(parse_promotion(&cx, top.block("promotion")));
    let journal = first.keep(parse_journal(&cx, top.block("journal")));
    let approval = first.keep(parse_approval(&cx, top.block("approval")));
    let plan_safety = first.keep(parse_plan_safety(&cx, top.block("plan_safety")));
    first.check()?;
    let (
        Some(region),
        Some(iac),
        Some(shared),
        Some(service),
        Some(state),
        Some(health),
        Some(traffic),
        Some(strategy),
        Some(promotion),
        Some(journal),
        Some(approval),
        Some(plan_safety),
    ) = (
        region,
        iac,
        shared,
        service,
        state,
        health,
        traffic,
        strategy,
        promotion,
        journal,
        approval,
        plan_safety,
    )
    else {
        unreachable!("a section without a value has recorded its error");
    };
    let file = lexical_absolute(file);
    Ok(EnvConfig {
        env_arg: name.clone(),
        name,
        dir,
        file,
        region,
        iac,
        shared,
        service,
        state,
        health,
        traffic,
        strategy,
        promotion,
        journal,
        approval,
        plan_safety,
    })
}
