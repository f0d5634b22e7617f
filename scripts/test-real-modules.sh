#!/usr/bin/env bash
# The real-provider test tier: one story against one emulator with the modules a team applies
# on AWS (environments/local: modules/shared and modules/service through wrapper roots, the real
# hashicorp/aws provider). Real: the bluegreen binary, Terraform, the provider, the modules.
# Emulated: AWS (moto through the project's strict launcher, scripts/emulator/strict_moto.py).
#
#   first deploy (beside it, at the same time: a copy of the environment under another name,
#   and environments/local-fast on the stand-in modules) → the stand-ins give bluegreen the same
#   outputs contract and AWS shapes as the real modules (scripts/emulator/compare_module_shapes.py)
#   → canary deploy → rollback → plan → apply → rebuild --swap → drift (clean) → an out-of-band
#   change to a module-managed attribute → drift names it → the copy is as its deploy left it
#
# After every step each provisioned stack's own `terraform plan -detailed-exitcode` (run here,
# not by bluegreen, with the inputs bluegreen gives it) exits 0: what bluegreen changed at run
# time (weights, desired counts) is what the modules leave to it. Nothing may be written into
# modules/ or environments/ (checked with git status before and after).
#
# Creating the ALB takes about a minute (the provider's fixed waits), so this is a tier of its
# own (scripts/test.sh runs it beside the Rust tests), not one shared stack per test.
#
# Environment: BLUEGREEN (the binary; default: cargo build --workspace --bins, the build of
# scripts/test.sh and scripts/demo.sh, so none rebuilds another's), BLUEGREEN_EMULATOR_VENV,
# TF_CLI_CONFIG_FILE (scripts/terraform-config.sh). Work dir and emulator home live under
# .bluegreen/real-tier/ and are wiped at start.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
cd -- "$REPO_ROOT"

TIER=$REPO_ROOT/.bluegreen/real-tier
export BLUEGREEN_EMULATOR_VENV=${BLUEGREEN_EMULATOR_VENV:-$REPO_ROOT/.bluegreen/emulator/venv}
export BLUEGREEN_EMULATOR_HOME=$TIER/emulator
export BLUEGREEN_WORK_DIR=$TIER/work
# The launcher registers a target per running task; the data plane (opt-in) is not part of this tier.
export BLUEGREEN_DATAPLANE=0
TF=${TF:-terraform}
ENV_NAME=local
started=$SECONDS

say() { printf '[%4ss] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
	printf 'real-modules: FAILED: %s\n' "$*" >&2
	exit 1
}

on_exit() {
	local rc=$?
	bash "$SCRIPT_DIR/emulator.sh" stop >/dev/null 2>&1 || true
	((rc == 0)) || printf 'real-modules: failed after %ss; work dir kept: %s\n' "$((SECONDS - started))" "$BLUEGREEN_WORK_DIR" >&2
	exit "$rc"
}

# Runs bluegreen, echoing its last lines; the exit code must be `want` (default 0).
run() {
	local want=0
	if [[ $1 == --want ]]; then
		want=$2
		shift 2
	fi
	say "bluegreen $*"
	local rc=0
	"$BLUEGREEN" "$@" >"$TIER/last.log" 2>&1 || rc=$?
	tail -n 2 "$TIER/last.log" | sed 's/^/    /'
	((rc == want)) || {
		cat "$TIER/last.log" >&2
		fail "bluegreen $* exited $rc, want $want"
	}
}

# Terraform ARGS in one stack's root, with the data dir and workspace bluegreen uses for it and
# the variables it passes: stack_tf ENV STACK ROOT ARGS…
stack_tf() {
	local env=$1 stack=$2 root=$3
	shift 3
	(cd "$root" && TF_DATA_DIR=$BLUEGREEN_WORK_DIR/$env/tf/$stack/data TF_WORKSPACE=$env-$stack \
		TF_VAR_bluegreen_environment=$env AWS_REGION=us-east-1 "$TF" "$@")
}

# `terraform plan -detailed-exitcode` of one stack, with the inputs bluegreen passes; its output
# goes to $TIER/plan-<env>-<stack>.log and its exit code is the plan's (0: no changes, 2:
# changes, 1: error).
plan_stack() {
	local env=$1 stack=$2 root=$3
	shift 3
	stack_tf "$env" "$stack" "$root" plan -detailed-exitcode -input=false -lock=false -no-color "$@" \
		>"$TIER/plan-$env-$stack.log" 2>&1
}

# Every provisioned stack of `env` (its directory `dir`) plans empty. The plans run side by side.
stacks_are_clean() {
	local env=$1 dir=$2 status shared color image tg cluster stack rc
	local -A jobs=()
	status=$("$BLUEGREEN" status --env "$env" --environments-dir "$(dirname "$dir")" --output json)
	shared=$(stack_tf "$env" shared "$dir/shared" output -json)
	cluster=$(jq -r '.cluster_name.value' <<<"$shared")
	plan_stack "$env" shared "$dir/shared" -var-file="$dir/shared.tfvars" &
	jobs[shared]=$!
	for color in blue green; do
		image=$(jq -r --arg c "$color" '.colors[] | select(.color == $c) | .image // empty' <<<"$status")
		[[ -n $image ]] || continue
		tg=$(jq -r --arg c "$color" '.target_group_arns.value[$c]' <<<"$shared")
		plan_stack "$env" "$color" "$dir/service" -var-file="$dir/service.tfvars" \
			-var "color=$color" -var "image=$image" -var "target_group_arn=$tg" -var "cluster_name=$cluster" &
		jobs[$color]=$!
	done
	for stack in "${!jobs[@]}"; do
		rc=0
		wait "${jobs[$stack]}" || rc=$?
		if ((rc != 0)); then
			cat -- "$TIER/plan-$env-$stack.log" >&2
			fail "$env/$stack: terraform plan -detailed-exitcode exited $rc after: $last_step"
		fi
	done
	say "    every stack of $env plans empty (terraform plan -detailed-exitcode = 0: ${!jobs[*]})"
}

step() {
	last_step="bluegreen $*"
	run "$@"
	stacks_are_clean "$ENV_NAME" "$REPO_ROOT/environments/$ENV_NAME"
}

untouched() { git status --porcelain --ignored -- modules environments; }

main() {
	command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"
	if [[ -z ${BLUEGREEN:-} ]]; then
		cargo build --quiet --workspace --bins
		BLUEGREEN=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/debug/bluegreen
	fi
	rm -rf -- "$TIER"
	mkdir -p -- "$TIER"
	trap on_exit EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	local before
	before=$(untouched)

	bash "$SCRIPT_DIR/emulator.sh" start >/dev/null
	eval "$(bash "$SCRIPT_DIR/emulator.sh" env 2>/dev/null)"
	say "emulator at $AWS_ENDPOINT_URL; Terraform CLI config ${TF_CLI_CONFIG_FILE:-<none>}"

	run validate --env local
	# Terraform does not lock its plugin cache: install the provider into it once, before three
	# deploys start side by side (the lock file in the root is already right: nothing is written).
	(cd environments/local/shared && TF_DATA_DIR=$TIER/prewarm "$TF" init -backend=false -input=false >/dev/null)

	# Two more environments deploy beside `local`, at the same time as its first deploy (most of
	# which is the provider waiting for the load balancer): `copy`, environments/local copied
	# under another name, and `local-fast`, the stand-in modules of the fast tier.
	local copies=$TIER/environments copy_pid fast_pid copy_before
	mkdir -p -- "$copies"
	ln -s -- "$REPO_ROOT/modules" "$TIER/modules"
	cp -R -- environments/local "$copies/copy"
	# The alarm names in bluegreen.hcl carry the environment's name (only `{color}` is a
	# placeholder): the copy reads its own alarms, bg-copy-<color>-5xx.
	sed -i -e 's/"bg-local-{color}-5xx"/"bg-copy-{color}-5xx"/' -- "$copies/copy/bluegreen.hcl"
	grep -q '"bg-copy-{color}-5xx"' -- "$copies/copy/bluegreen.hcl" || fail "could not rename the copy's alarms"
	say "bluegreen deploy --env copy / --env local-fast (in the background)"
	"$BLUEGREEN" deploy --env copy --environments-dir "$copies" --image public.ecr.aws/nginx/nginx:1.30 \
		>"$TIER/deploy-copy.log" 2>&1 &
	copy_pid=$!
	"$BLUEGREEN" deploy --env local-fast --image public.ecr.aws/nginx/nginx:1.30 >"$TIER/deploy-local-fast.log" 2>&1 &
	fast_pid=$!

	step deploy --env local --image public.ecr.aws/nginx/nginx:1.27
	stack_tf local shared environments/local/shared version |
		sed -n -e 's/^\(Terraform v.*\)/    \1/p' -e 's/^+ provider /    provider /p'
	wait "$copy_pid" || {
		cat -- "$TIER/deploy-copy.log" >&2
		fail "the deploy of the copy failed"
	}
	wait "$fast_pid" || {
		cat -- "$TIER/deploy-local-fast.log" >&2
		fail "the deploy of local-fast failed"
	}
	tail -n 1 "$TIER/deploy-copy.log" | sed 's/^/    copy: /'
	tail -n 1 "$TIER/deploy-local-fast.log" | sed 's/^/    local-fast: /'
	last_step="deploy of the copy"
	stacks_are_clean copy "$copies/copy"
	copy_before=$("$BLUEGREEN" status --env copy --environments-dir "$copies" --output json | jq -c '[.routes, .colors]')
	jq -e '.[1][] | select(.color == "blue") | .service == "bg-copy-blue"' <<<"$copy_before" >/dev/null ||
		fail "the copy's blue service is not bg-copy-blue: $copy_before"
	"$BLUEGREEN" status --env local --output json | jq -e '.colors[] | select(.color == "blue") | .service == "bg-local-blue"' >/dev/null ||
		fail "local's blue service is not bg-local-blue"

	# The stand-in modules give bluegreen the same outputs contract and the same AWS shapes as
	# the real ones: compare the copy (real modules, fresh, image 1.30) with local-fast (same image).
	stack_tf copy shared "$copies/copy/shared" output -json >"$TIER/outputs-copy.json"
	stack_tf local-fast shared modules/emulator/shared output -json >"$TIER/outputs-local-fast.json"
	say "compare what bluegreen reads: copy (real modules) vs local-fast (stand-ins)"
	if ! "$BLUEGREEN_EMULATOR_VENV/bin/python" "$SCRIPT_DIR/emulator/compare_module_shapes.py" \
		copy "$TIER/outputs-copy.json" local-fast "$TIER/outputs-local-fast.json" >"$TIER/shapes.log"; then
		cat -- "$TIER/shapes.log" >&2
		fail "the real modules and the stand-ins differ in what bluegreen reads"
	fi
	sed 's/^/    /' "$TIER/shapes.log"

	step deploy --env local --image public.ecr.aws/nginx/nginx:1.28
	step rollback --env local
	step plan --env local --image public.ecr.aws/nginx/nginx:1.29 --out "$TIER/plan.json"
	step apply "$TIER/plan.json"
	step rebuild --env local --swap
	last_step="drift"
	run drift --env local

	# Out of band: the blue target group's health-check path, a module-managed attribute.
	say "out of band: health-check path of bg-local-blue → /changed-out-of-band"
	"$BLUEGREEN_EMULATOR_VENV/bin/python" - <<-'EOF'
		import boto3
		elb = boto3.client("elbv2")
		tg = elb.describe_target_groups(Names=["bg-local-blue"])["TargetGroups"][0]
		elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath="/changed-out-of-band")
	EOF
	run --want 9 drift --env local --output json
	grep -q 'module.shared.aws_lb_target_group.this\[\\"blue\\"\]' "$TIER/last.log" ||
		fail "drift did not name module.shared.aws_lb_target_group.this[\"blue\"]"
	say "    drift names module.shared.aws_lb_target_group.this[\"blue\"]"

	# Everything `local` did since (deploys, a rollback, a rebuild, all in one ALB account and
	# region) left the copy exactly as its own deploy did.
	[[ $("$BLUEGREEN" status --env copy --environments-dir "$copies" --output json | jq -c '[.routes, .colors]') == "$copy_before" ]] ||
		fail "local's deploys changed the copy's routes or services"
	say "    the copy's routes and services are as its deploy left them"

	[[ $(untouched) == "$before" ]] || fail "files appeared in modules/ or environments/: $(untouched)"
	say "real-modules: passed in $((SECONDS - started))s"
}

last_step=""
main "$@"
