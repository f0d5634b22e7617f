//! The one place that maps outcomes to process exit codes. These numbers are a stable interface
//! for pipelines; `docs/exit-codes.md` documents them and a test keeps the two in step.

/// Everything worked.
pub const SUCCESS: i32 = 0;
/// An unexpected internal error (a bug); the message says what happened.
pub const INTERNAL: i32 = 1;
/// Bad input: command line, environment file, image reference, module contract. Nothing on AWS,
/// in the Terraform state or in the work directory's state was changed.
pub const BAD_INPUT: i32 = 2;
/// Terraform/OpenTofu failed (init, plan, apply, output). Production traffic was not moved.
pub const IAC_FAILED: i32 = 3;
/// An AWS call failed before production traffic was moved (or while only reading).
pub const AWS_FAILED: i32 = 4;
/// The deployment failed a check (health, weights that never converged) and traffic was put
/// back on the previous color, read back and verified.
pub const ROLLED_BACK: i32 = 5;
/// A rollback or restore could not be verified: traffic may be on a bad stack. Page someone.
pub const ROLLBACK_FAILED: i32 = 6;
/// The request was valid but the environment's current state does not allow it (e.g. traffic
/// is split, or the color to roll back to is not running). Nothing was changed.
pub const REFUSED: i32 = 7;

/// Another bluegreen command holds the environment's lock; the message names the holder.
/// Nothing was changed.
pub const LOCKED: i32 = 8;

/// `drift` found differences between the stacks' code, what AWS says and what the journal
/// recorded. Nothing was changed.
pub const DRIFT: i32 = 9;

/// The deployment waits at its approval gate for `bluegreen approve` (then `bluegreen resume`).
/// Production traffic was not moved; the deployment is unfinished, the lock released.
pub const AWAITING_APPROVAL: i32 = 10;

/// All codes with their names, for `docs/exit-codes.md` and its test.
pub const ALL: [(i32, &str); 11] = [
    (SUCCESS, "SUCCESS"),
    (INTERNAL, "INTERNAL"),
    (BAD_INPUT, "BAD_INPUT"),
    (IAC_FAILED, "IAC_FAILED"),
    (AWS_FAILED, "AWS_FAILED"),
    (ROLLED_BACK, "ROLLED_BACK"),
    (ROLLBACK_FAILED, "ROLLBACK_FAILED"),
    (REFUSED, "REFUSED"),
    (LOCKED, "LOCKED"),
    (DRIFT, "DRIFT"),
    (AWAITING_APPROVAL, "AWAITING_APPROVAL"),
];
