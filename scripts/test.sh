#!/usr/bin/env bash
# Everything CI checks, runnable locally: installs what the tests need, then runs formatting,
# lints and the whole test suite. Every check runs even when an earlier one fails, so one run
# shows every problem; the exit status is non-zero when any check failed.
#
# Needs: cargo (with rustfmt and clippy), Python 3.11+ (for the emulator venv, see
# scripts/emulator.sh), terraform or tofu on PATH, and the providers the modules use: from a
# provider mirror (BLUEGREEN_PROVIDER_MIRROR, docs/terraform-providers.md) or the registry, and jq
# (installed with apt-get when missing and running as root).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_ROOT"

die() {
	printf 'test.sh: error: %s\n' "$*" >&2
	exit 1
}

banner() { printf '\n==> %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------
# prerequisites: fail early, with the fix in the message

command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (https://rustup.rs)"

# `rustup component add` is a no-op offline when the components are already there, but it
# needs the network otherwise; only ask when something is actually missing.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
	command -v rustup >/dev/null 2>&1 ||
		die "cargo fmt/clippy are missing and rustup is not available to add them"
	banner "rustup component add rustfmt clippy"
	rustup component add rustfmt clippy
fi

if command -v terraform >/dev/null 2>&1; then
	TF=terraform
elif command -v tofu >/dev/null 2>&1; then
	TF=tofu
else
	die "neither terraform nor tofu is on PATH; the integration tests and 'fmt -check' need one (Terraform 1.11+ or OpenTofu)"
fi

# jq: the real-provider tier (scripts/test-real-modules.sh) reads bluegreen's JSON with it.
if ! command -v jq >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
		banner "apt-get install jq"
		apt-get install -y -q jq >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q jq >/dev/null; } ||
			die "installing jq failed; install it (apt-get install jq) and run again"
	else
		die "jq not found; install it (e.g. apt-get install jq): the real-provider tier reads JSON with it"
	fi
fi

banner "scripts/emulator.sh install"
bash "$SCRIPT_DIR/emulator.sh" install
# The venv scripts/emulator.sh installed into (the same defaults and variables).
EMULATOR_HOME=${BLUEGREEN_EMULATOR_HOME:-$REPO_ROOT/.bluegreen/emulator}
[[ $EMULATOR_HOME == /* ]] || EMULATOR_HOME=$PWD/$EMULATOR_HOME
EMULATOR_VENV=${BLUEGREEN_EMULATOR_VENV:-$EMULATOR_HOME/venv}
[[ $EMULATOR_VENV == /* ]] || EMULATOR_VENV=$PWD/$EMULATOR_VENV

# The Terraform CLI config (provider mirror where there is one, shared plugin cache) for every
# Terraform run below, the Rust tests' included: .bluegreen/terraform.rc, unless
# TF_CLI_CONFIG_FILE already names a file (scripts/terraform-config.sh, docs/terraform-providers.md).
banner "scripts/terraform-config.sh env"
tf_config=$(bash "$SCRIPT_DIR/terraform-config.sh" env)
eval "$tf_config"
export TF

# ---------------------------------------------------------------------------------------------
# checks

failed=()
check() {
	local name=$1 started=$SECONDS rc=0
	shift
	banner "$name"
	"$@" || rc=$?
	if ((rc == 0)); then
		printf -- '--- ok: %s (%ss)\n' "$name" "$((SECONDS - started))"
	else
		printf -- '--- FAILED: %s (exit %s, %ss)\n' "$name" "$rc" "$((SECONDS - started))"
		failed+=("$name")
	fi
}

# --all / --workspace: the root package and dataplane/ (bg-dataplane, docs/dataplane.md).
check "cargo fmt --all --check" cargo fmt --all --check
check "cargo clippy --workspace --all-targets -- -D warnings" cargo clippy --workspace --all-targets -- -D warnings
check "$TF fmt -check -recursive" "$TF" fmt -check -recursive
# init -backend=false + validate of every module, wrapper root and example with the real
# providers, in a temp copy (nothing written into the repository; checked).
check "$TF validate (every module, root and example)" bash "$SCRIPT_DIR/terraform-validate.sh"
# The strict emulator launcher's patches (scripts/emulator/strict_moto.py), each against a
# patched server on a loopback port; the Rust tests' emulators all run through this launcher.
check "strict emulator patches (python unittest)" \
	"$EMULATOR_VENV/bin/python" -m unittest discover -s scripts/emulator -p 'test_*.py'
# The real-provider tier (scripts/test-real-modules.sh: environments/local, the real modules and
# hashicorp/aws provider against its own strict emulator) runs in the background beside the Rust
# tests: most of its time is the provider's fixed load-balancer waits and Terraform, so it
# overlaps well. It needs the binary first (cargo would otherwise build it under the tests' lock).
real_tier_log=$REPO_ROOT/.bluegreen/real-tier.log
real_tier_pid=
start_real_tier() {
	local target_dir
	# Both binaries: the tier runs bluegreen; tests/dataplane_e2e.rs runs bg-dataplane, which
	# `cargo test` does not build as an executable for another package's tests.
	cargo build --workspace --bins || return
	target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
	mkdir -p -- "$REPO_ROOT/.bluegreen"
	BLUEGREEN=$target_dir/debug/bluegreen bash "$SCRIPT_DIR/test-real-modules.sh" >"$real_tier_log" 2>&1 &
	real_tier_pid=$!
	printf 'started in the background (pid %s); log: %s\n' "$real_tier_pid" "$real_tier_log"
}
wait_real_tier() {
	[[ -n $real_tier_pid ]] || {
		echo "not started (see 'cargo build --workspace --bins' above)"
		return 1
	}
	local rc=0
	wait "$real_tier_pid" || rc=$?
	cat -- "$real_tier_log"
	return "$rc"
}
# A test.sh that ends early (Ctrl-C, a kill) ends the tier too; it stops its emulator on exit.
trap '[[ -z $real_tier_pid ]] || kill -TERM "$real_tier_pid" 2>/dev/null || true' EXIT
check "cargo build --workspace --bins; start the real-provider tier" start_real_tier

# --all-targets does not run doctests, so they get their own step — first, so that the last
# test summary in the log is the real suite's, not the (small) doctest run's.
check "cargo test --doc" cargo test --doc
# tests/dataplane_e2e.rs and tests/dataplane_bad_canary_e2e.rs run target/debug/bg-dataplane,
# built above (cargo build --workspace --bins).
check "cargo test --workspace --all-targets" cargo test --workspace --all-targets
check "real-provider tier (scripts/test-real-modules.sh)" wait_real_tier

echo
if ((${#failed[@]})); then
	printf 'test.sh: %s check(s) failed:\n' "${#failed[@]}" >&2
	printf '  - %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "test.sh: all checks passed"
