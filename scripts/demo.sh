#!/usr/bin/env bash
# The tour, against the local emulator: no AWS account needed.
#
# Builds bluegreen and the local data plane (bg-dataplane, docs/dataplane.md), starts a fresh
# emulator with the data plane, and walks one environment (`local`: the modules a team applies
# on AWS, modules/shared and modules/service, with the real hashicorp/aws provider) through
# validate → deploy 1.27 → status → plan 1.28 (artifact) → apply it → status (JSON) → rollback →
# status → a broken release 1.29 (30 % of its answers are 500) that its 5xx alarm stops: rolled
# back, exit 5 → history. From the apply on, the load generator sends 200 requests/s through the
# production listener and prints one line a second (`traffic 1.27 80% · 1.28 20% · errors 0 ·
# p99 12ms`); at the end it draws the traffic picture (SVG) and the demo prints its path. The
# first deploy creates the load balancer: about a minute. Every run starts from nothing (fresh
# emulator, wiped work dir), so it is repeatable. Any failing step stops the demo with a
# non-zero exit; the emulator, the data plane and the load generator are stopped on exit.
#
# The demo runs its own emulator (pid/port/log under .bluegreen/demo-emulator) from the shared
# venv, so an emulator you started with `scripts/emulator.sh start` is left alone. Two demos in
# one checkout would wipe each other's work dir, so a second one refuses to start.
#
# Environment:
#   BLUEGREEN_WORK_DIR        work dir for Terraform data/state (default .bluegreen/demo-work);
#                             WIPED at start
#   BLUEGREEN_EMULATOR_HOME   where the shared emulator venv lives (see scripts/emulator.sh)
#   BLUEGREEN_DEMO_RATE       requests per second of the load generator (default 200)
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
LOAD_PID=""
on_exit() {
	local rc=$?
	# The load generator we started (SIGTERM: it stops sending and writes its outputs).
	if [[ -n $LOAD_PID ]]; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
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
# Both binaries in one build, so the AWS SDK is compiled once for both (docs/dataplane.md).
build() {
	banner "cargo build --workspace --bins (bluegreen and the local data plane, bg-dataplane)"
	cargo build --workspace --bins
	local target_dir
	target_dir=$(cargo metadata --format-version 1 --no-deps |
		sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
	[[ -n $target_dir ]] || die "could not find cargo's target directory"
	BLUEGREEN=$target_dir/debug/bluegreen
	[[ -x $BLUEGREEN ]] || die "build succeeded but $BLUEGREEN is missing"
	DATAPLANE=$target_dir/debug/bg-dataplane
	[[ -x $DATAPLANE ]] || die "build succeeded but $DATAPLANE is missing"
	export BLUEGREEN_DATAPLANE_BIN=$DATAPLANE
}

start_emulator() {
	banner "BLUEGREEN_DATAPLANE=1 scripts/emulator.sh start (fresh; with the data plane)"
	# The data plane: tasks that answer HTTP, one local socket per ALB listener, target health
	# from real health checks, ALB metrics (here each second, as high-resolution metrics) and
	# the alarms evaluated from them (every 10 s, the cadence of a high-resolution alarm).
	export BLUEGREEN_DATAPLANE=1
	export BG_DATAPLANE_METRICS_PERIOD=${BG_DATAPLANE_METRICS_PERIOD:-1s}
	export BG_DATAPLANE_ALARM_INTERVAL=${BG_DATAPLANE_ALARM_INTERVAL:-10s}
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
	printf 'BLUEGREEN_DATAPLANE_MAP=%s\n' "${BLUEGREEN_DATAPLANE_MAP:-<none>}"
}

# The local URL of the production listener (port 80), from the data plane's map.
production_url() {
	"$BLUEGREEN_EMULATOR_VENV/bin/python" -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(next(l["url"] for l in m["listeners"] if l["port"] == 80))' "$BLUEGREEN_DATAPLANE_MAP"
}

# Starts the load generator through the production listener in the background: one line a
# second on stderr; outputs (summary, timeline, per-request log, picture) under LOAD_DIR.
start_load() {
	local url deadline=$((SECONDS + 20))
	until url=$(production_url 2>/dev/null) && [[ -n $url ]]; do
		((SECONDS < deadline)) || die "the data plane serves no production listener (map: $BLUEGREEN_DATAPLANE_MAP)"
		sleep 0.2
	done
	LOAD_DIR=$WORK_DIR/traffic
	banner "bg-dataplane load --url $url/ --rate $RATE --live (in the background, until the end)"
	printf 'The production listener (ALB port 80) is served locally at %s; one request: ' "$url"
	curl -s --max-time 5 "$url/" || printf '(curl failed)'
	printf '\n'
	# Bounded: at most 10 minutes; the demo stops it with SIGTERM before that.
	"$DATAPLANE" load --url "$url/" --rate "$RATE" --duration 600s --out "$LOAD_DIR" --live \
		>"$WORK_DIR/load-summary.txt" &
	LOAD_PID=$!
	sleep 2
}

stop_load() {
	banner "stopping the load generator"
	kill -TERM "$LOAD_PID"
	local rc=0
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	((rc == 0)) || die "the load generator failed (exit $rc)"
	"$BLUEGREEN_EMULATOR_VENV/bin/python" - "$LOAD_DIR/summary.json" "$LOAD_DIR/requests.jsonl" <<'PY'
import collections, json, sys
s = json.load(open(sys.argv[1]))
lat = s.get("latency_ms", {})
print(f"requests {s['requests']} at {s['achieved_rate']:.0f}/s over {s['elapsed_s']:.0f}s"
      f" · failed {s['failed']} · by status {s['by_status']} · by version {s['by_version']}"
      f" · p50 {lat.get('p50', 0):.1f}ms · p99 {lat.get('p99', 0):.1f}ms")
# Which version answered each failed request (none: no answer, or the load balancer's own 5xx).
failed = collections.Counter()
for line in open(sys.argv[2]):
    r = json.loads(line)
    if not 200 <= r["status"] < 300:
        failed[r.get("version") or "no version (load balancer or no answer)"] += 1
print("failed requests by version:", dict(failed) or "none")
PY
}

# The broken release: 1.29 whose tasks answer 500 to 30 % of requests. Its container environment
# comes from the service root's `environment` variable (service.tfvars sets none, so
# TF_VAR_environment reaches Terraform); a canary at 20 % for up to 60 s, watched by the color's
# 5xx alarm, which the data plane raises from the metrics it publishes. bluegreen must roll back
# and exit 5 (docs/exit-codes.md).
broken_release() {
	current_step="bluegreen deploy (broken release 1.29)"
	banner "TF_VAR_environment='{ BG_ERROR_RATE = \"0.3\" }' bluegreen deploy --env local --image public.ecr.aws/nginx/nginx:1.29 --strategy canary:20:60s"
	printf 'A broken release: 30 %% of its answers are 500. Expect its 5xx alarm to fire (raised by the\n'
	printf "data plane's own alarm evaluation) and bluegreen to roll back to 1.27 with exit 5.\n"
	local rc=0
	TF_VAR_environment='{ BG_ERROR_RATE = "0.3" }' "$BLUEGREEN" deploy --env local \
		--image public.ecr.aws/nginx/nginx:1.29 --strategy canary:20:60s || rc=$?
	((rc == 5)) || die "the broken release should have been rolled back with exit 5; bluegreen exited $rc"
	printf '\nbluegreen exited 5 as expected: the alarm fired during the canary and traffic went back to 1.27.\n'
	grep -E 'alarm bg-local-green-5xx: [A-Z_]+ -> ALARM' "$BLUEGREEN_EMULATOR_HOME/dataplane.log" | tail -n 1 || true
	current_step=""
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

	RATE=${BLUEGREEN_DEMO_RATE:-200}
	[[ $RATE =~ ^[1-9][0-9]*$ ]] || die "BLUEGREEN_DEMO_RATE must be a positive whole number of requests per second"
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
	start_load
	step apply "$WORK_DIR/plan-1.28.json"
	step status --env local --output json
	step rollback --env local
	step status --env local
	broken_release
	stop_load
	step history --env local

	banner "done: deployed 1.27, planned and applied 1.28 (canary under load), rolled back to 1.27, and a broken 1.29 was caught by its alarm and rolled back"
	printf 'traffic picture: %s\n' "$LOAD_DIR/traffic.svg"
	printf 'per-second timeline: %s; every request: %s\n' "$LOAD_DIR/timeline.json" "$LOAD_DIR/requests.jsonl"
}

main "$@"
