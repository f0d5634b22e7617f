#!/usr/bin/env bash
# The tour, against the local emulator: no AWS account needed.
#
# Builds bluegreen, starts a fresh emulator, and walks one environment (`local`: the modules a
# team applies on AWS, modules/shared and modules/service, with the real hashicorp/aws provider)
# through validate → deploy 1.27 → status → plan 1.28 (artifact) → apply it → status (JSON) →
# rollback → status → history. The first deploy creates the load balancer: about a minute.
# Every run starts from nothing (fresh emulator, wiped work dir), so it is repeatable.
# Any failing step stops the demo with a non-zero exit; the emulator is stopped on exit.
#
# The demo runs its own emulator (pid/port/log under .bluegreen/demo-emulator) from the shared
# venv, so an emulator you started with `scripts/emulator.sh start` is left alone. Two demos in
# one checkout would wipe each other's work dir, so a second one refuses to start.
#
# Environment:
#   BLUEGREEN_WORK_DIR        work dir for Terraform data/state (default .bluegreen/demo-work);
#                             WIPED at start
#   BLUEGREEN_EMULATOR_HOME   where the shared emulator venv lives (see scripts/emulator.sh)
#   BLUEGREEN_PROVIDER_MIRROR a Terraform provider mirror; Terraform runs with the CLI config
#                             .bluegreen/terraform.rc unless TF_CLI_CONFIG_FILE names a file
#                             (scripts/terraform-config.sh, docs/terraform-providers.md)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
EMULATOR=$SCRIPT_DIR/emulator.sh
WORK_DIR=${BLUEGREEN_WORK_DIR:-$REPO_ROOT/.bluegreen/demo-work}
# The venv is shared with scripts/emulator.sh's default home; the running server is the demo's.
export BLUEGREEN_EMULATOR_VENV=${BLUEGREEN_EMULATOR_VENV:-${BLUEGREEN_EMULATOR_HOME:-$REPO_ROOT/.bluegreen/emulator}/venv}
export BLUEGREEN_EMULATOR_HOME=$REPO_ROOT/.bluegreen/demo-emulator
[[ $WORK_DIR == /* ]] || WORK_DIR=$PWD/$WORK_DIR
[[ $BLUEGREEN_EMULATOR_VENV == /* ]] || BLUEGREEN_EMULATOR_VENV=$PWD/$BLUEGREEN_EMULATOR_VENV
# Written into the work dir so that we only ever wipe a directory this script created.
MARKER=.bluegreen-demo-work-dir

cd -- "$REPO_ROOT"

die() {
	printf 'demo: error: %s\n' "$*" >&2
	exit 1
}

banner() {
	if [[ -t 1 ]]; then
		printf '\n\033[1m==> %s\033[0m\n' "$*"
	else
		printf '\n==> %s\n' "$*"
	fi
}

current_step=""
on_exit() {
	local rc=$?
	# Stop the emulator we started, whatever happened; its state dies with the work dir.
	bash "$EMULATOR" stop || true
	if ((rc != 0)); then
		printf '\ndemo: FAILED%s (exit %s)\n' "${current_step:+ at: $current_step}" "$rc" >&2
	fi
	exit "$rc"
}

# Runs one tour step under a banner; `set -e` turns its failure into the demo's failure.
step() {
	current_step="bluegreen $*"
	banner "$current_step"
	"$BLUEGREEN" "$@"
	current_step=""
}

prepare_work_dir() {
	case $WORK_DIR in
	"" | / | "$HOME" | "$REPO_ROOT" | "$REPO_ROOT/") die "refusing to use '$WORK_DIR' as the demo work dir" ;;
	esac
	if [[ -d $WORK_DIR && -n $(ls -A -- "$WORK_DIR") && ! -f $WORK_DIR/$MARKER ]]; then
		die "$WORK_DIR is not empty and was not created by this demo; refusing to wipe it (set BLUEGREEN_WORK_DIR)"
	fi
	rm -rf -- "$WORK_DIR"
	mkdir -p -- "$WORK_DIR"
	: >"$WORK_DIR/$MARKER"
	export BLUEGREEN_WORK_DIR=$WORK_DIR
}

# A debug build: `cargo test` already compiles the debug profile, so this mostly reuses its
# artifacts, while --release would compile the whole AWS SDK a second time (minutes on a small
# machine) for a demo whose time is spent in Terraform and the emulator, not in our code.
build() {
	banner "cargo build --bin bluegreen"
	cargo build --bin bluegreen
	local target_dir
	target_dir=$(cargo metadata --format-version 1 --no-deps |
		sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
	[[ -n $target_dir ]] || die "could not find cargo's target directory"
	BLUEGREEN=$target_dir/debug/bluegreen
	[[ -x $BLUEGREEN ]] || die "build succeeded but $BLUEGREEN is missing"
}

start_emulator() {
	banner "scripts/emulator.sh start (fresh)"
	# A fresh emulator per run, so AWS and the wiped Terraform state agree: stop the one a
	# previous (interrupted) demo may have left.
	bash "$EMULATOR" stop
	bash "$EMULATOR" start >/dev/null
	local exports
	# The emulator's endpoint and credentials, and TF_CLI_CONFIG_FILE (scripts/terraform-config.sh).
	exports=$(bash "$EMULATOR" env)
	eval "$exports"
	printf 'AWS_ENDPOINT_URL=%s\n' "$AWS_ENDPOINT_URL"
	printf 'TF_CLI_CONFIG_FILE=%s\n' "${TF_CLI_CONFIG_FILE:-<none>}"
}

# Which Terraform and which hashicorp/aws provider the first deploy just ran with.
print_versions() {
	local tf
	tf=$(command -v tofu || command -v terraform)
	banner "$(basename "$tf") version (the shared stack's)"
	(cd environments/local/shared && TF_DATA_DIR=$WORK_DIR/local/tf/shared/data "$tf" version) |
		sed -n -e '/^\(Terraform\|OpenTofu\) v/p' -e '/^+ provider /p'
}

main() {
	command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust: https://rustup.rs)"
	command -v tofu >/dev/null 2>&1 || command -v terraform >/dev/null 2>&1 ||
		die "neither tofu nor terraform is on PATH; install one of them"

	mkdir -p -- "$REPO_ROOT/.bluegreen"
	exec 7>"$REPO_ROOT/.bluegreen/demo.lock"
	if command -v flock >/dev/null 2>&1 && ! flock -n 7; then
		die "another scripts/demo.sh is running in this checkout; wait for it to finish"
	fi

	build
	prepare_work_dir
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	start_emulator

	step validate --env local
	step deploy --env local --image public.ecr.aws/nginx/nginx:1.27
	print_versions
	step status --env local
	step plan --env local --image public.ecr.aws/nginx/nginx:1.28 --out "$WORK_DIR/plan-1.28.json"
	step apply "$WORK_DIR/plan-1.28.json"
	step status --env local --output json
	step rollback --env local
	step status --env local
	step history --env local

	banner "done: deployed 1.27, planned and applied 1.28, then rolled back to 1.27"
}

main "$@"
