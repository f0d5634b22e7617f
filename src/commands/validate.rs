//! `validate`: the environment file (already parsed by `Ctx::load`) and the roots' module
//! contract. No AWS calls, no Terraform runs, nothing written.

use crate::contract;
use crate::error::Error;
use crate::flow::context::Ctx;
use serde::Serialize;

#[derive(Serialize)]
struct ValidateResult<'a> {
    env: &'a str,
    file: String,
    valid: bool,
    problems: Vec<String>,
}

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    let mut problems = Vec::new();
    let bad = |e: contract::ContractError| Error::bad_input(e.to_string(), "fix the module's HCL");
    let shared = contract::read_module(&ctx.cfg.shared.root).map_err(bad)?;
    problems.extend(contract::check_shared_root(&shared));
    let service = contract::read_module(&ctx.cfg.service.stack.root).map_err(bad)?;
    problems.extend(contract::check_service_root(&service));
    if !problems.is_empty() {
        return Err(Error::bad_input(
            format!(
                "environment `{}` does not satisfy the module contract:\n  - {}",
                ctx.cfg.name,
                problems.join("\n  - ")
            ),
            "add the missing outputs/variables/backend (docs/contract.md)",
        ));
    }
    let r = ValidateResult {
        env: &ctx.cfg.name,
        file: ctx.cfg.file.display().to_string(),
        valid: true,
        problems,
    };
    ctx.out.result(
        &format!(
            "environment `{}` is valid ({}): shared root {}, service root {}",
            ctx.cfg.name,
            ctx.cfg.file.display(),
            ctx.cfg.shared.root.display(),
            ctx.cfg.service.stack.root.display()
        ),
        &r,
    );
    Ok(())
}
