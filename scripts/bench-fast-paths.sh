#!/usr/bin/env bash
# Issue 16's fast paths, measured against the local emulator (docs/performance.md).
#
#   BLUEGREEN_BIN=/path/to/bluegreen scripts/bench-fast-paths.sh vs-aws-cli   (acceptance 1, 2)
#   BLUEGREEN_BIN=/path/to/bluegreen scripts/bench-fast-paths.sh waits        (acceptance 3)
#
# Both start their own emulator under $BENCH_HOME (default .bluegreen/bench-fast-paths): the
# strict launcher from the shared emulator venv, with MOTO_ECS_SERVICE_RUNNING=2 so that a
# scaled service reports its tasks running. Both wipe their work dir and deploy
# environments/local-fast (the stand-in modules: the fast tier) twice first, untimed, so that
# both colors are provisioned, warm and their outputs recorded.
#
# vs-aws-cli: makes its own venv with AWS CLI v1 (pinned in bench-fast-paths/requirements.txt;
#   never the emulator's venv), then runs bench-fast-paths/vs_aws_cli.py: BENCH_ROUNDS (15)
#   interleaved rounds of `bluegreen rollback` vs bench-fast-paths/cli-rollback.sh (five AWS
#   CLI calls) and `bluegreen status --output json` vs one `aws elbv2 describe-listeners`;
#   prints every round, the medians and the median of the per-round ratios.
# waits: runs bench-fast-paths/waits.py: BENCH_DEPLOYS (10) deploys of local-fast (how far
#   bakes, post-bake and termination wait overshoot, from the journal), then as many
#   all-at-once deploys with 0 s bakes at a 1 s poll (the share of wall time spent waiting on
#   polls, from the driver's debug log).
#
# BLUEGREEN_BIN: the binary to measure (default target/release/bluegreen). The emulator is
# stopped on exit.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
HERE=$SCRIPT_DIR/bench-fast-paths
BENCH_HOME=${BENCH_HOME:-$REPO_ROOT/.bluegreen/bench-fast-paths}
[[ $BENCH_HOME == /* ]] || BENCH_HOME=$PWD/$BENCH_HOME
BG=${BLUEGREEN_BIN:-$REPO_ROOT/target/release/bluegreen}
VENV=$BENCH_HOME/venv
EMULATOR=$SCRIPT_DIR/emulator.sh
ENV_NAME=local-fast

die() {
	printf 'bench-fast-paths: error: %s\n' "$*" >&2
	exit 1
}
log() { printf 'bench-fast-paths: %s\n' "$*" >&2; }

mode=${1:-}
[[ $mode == vs-aws-cli || $mode == waits ]] || die "usage: $0 vs-aws-cli|waits"
[[ -x $BG ]] || die "no bluegreen binary at $BG (build one, or set BLUEGREEN_BIN)"
[[ $BG == /* ]] || BG=$PWD/$BG

if [[ $mode == vs-aws-cli ]]; then
	# The AWS CLI's venv, rebuilt when the pins change.
	stamp=$(sha256sum <"$HERE/requirements.txt" | cut -d' ' -f1)
	if [[ ! -x $VENV/bin/aws || $(cat "$VENV/.stamp" 2>/dev/null) != "$stamp" ]]; then
		log "creating $VENV ($(<"$HERE/requirements.txt"))"
		rm -rf -- "$VENV"
		python3 -m venv -- "$VENV"
		PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q -r "$HERE/requirements.txt"
		printf '%s\n' "$stamp" >"$VENV/.stamp"
	fi
fi

# Our own emulator: its own home, the shared venv.
export BLUEGREEN_EMULATOR_VENV=${BLUEGREEN_EMULATOR_VENV:-$REPO_ROOT/.bluegreen/emulator/venv}
export BLUEGREEN_EMULATOR_HOME=$BENCH_HOME/emulator-$mode
trap 'bash "$EMULATOR" stop || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bash "$EMULATOR" stop
MOTO_ECS_SERVICE_RUNNING=2 bash "$EMULATOR" start >/dev/null
eval "$(bash "$EMULATOR" env)"
export AWS_EC2_METADATA_DISABLED=true

export BLUEGREEN_WORK_DIR=$BENCH_HOME/work-$mode
rm -rf -- "$BLUEGREEN_WORK_DIR"
mkdir -p -- "$BLUEGREEN_WORK_DIR"

cd -- "$REPO_ROOT"
log "bluegreen: $BG"
for image in public.ecr.aws/nginx/nginx:1.27 public.ecr.aws/nginx/nginx:1.28; do
	log "deploy $image (untimed: provisions and warms both colors)"
	"$BG" deploy --env "$ENV_NAME" --image "$image" >"$BENCH_HOME/deploy.log" 2>&1 ||
		die "deploy failed: see $BENCH_HOME/deploy.log"
done

case $mode in
vs-aws-cli)
	log "$("$VENV/bin/aws" --version 2>&1)"
	"$VENV/bin/python" "$HERE/vs_aws_cli.py" "$BG" "$VENV/bin/aws" "$ENV_NAME"
	;;
waits)
	# local-fast-zero: local-fast with all-at-once and 0 s waits (its own stacks and names).
	zero=$BENCH_HOME/envs/local-fast-zero
	rm -rf -- "$zero"
	mkdir -p -- "$zero"
	cp environments/local-fast/*.tfvars "$zero/"
	sed -e "s|\"../../modules/|\"$REPO_ROOT/modules/|" \
		-e '/^strategy {/,/^}/c strategy { type = "all-at-once" }' \
		-e 's/^\(  bake *= \)"2s"/\1"0s"/' \
		-e 's/^\(  termination_wait *= \)"3s"/\1"0s"/' \
		environments/local-fast/bluegreen.hcl >"$zero/bluegreen.hcl"
	grep -q 'type = "all-at-once"' "$zero/bluegreen.hcl" && grep -q 'termination_wait = "0s"' "$zero/bluegreen.hcl" ||
		die "could not derive $zero/bluegreen.hcl from environments/local-fast"
	for image in public.ecr.aws/nginx/nginx:1.27 public.ecr.aws/nginx/nginx:1.28; do
		"$BG" --environments-dir "$BENCH_HOME/envs" deploy --env local-fast-zero --image "$image" \
			>"$BENCH_HOME/deploy.log" 2>&1 || die "deploy failed: see $BENCH_HOME/deploy.log"
	done
	python3 "$HERE/waits.py" "$BG" "$BLUEGREEN_WORK_DIR" "$BENCH_HOME/envs"
	;;
esac
