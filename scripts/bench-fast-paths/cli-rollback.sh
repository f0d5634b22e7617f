#!/usr/bin/env bash
# The hand-written AWS CLI rollback bluegreen's `rollback` is measured against
# (scripts/bench-fast-paths.sh vs-aws-cli, docs/performance.md): the five calls a careful operator makes to
# put production traffic back on a warm color, and nothing else.
#
#   cli-rollback.sh AWS CLUSTER SERVICE TARGET_GROUP LISTENER ACTIONS_JSON
#
#   1. scale the target color's service to its full size   ecs update-service
#   2. wait until running = desired                          ecs describe-services (every 1 s)
#   3. check its targets are healthy                         elbv2 describe-target-health
#   4. move the listener                                     elbv2 modify-listener
#   5. read it back                                          elbv2 describe-listeners
#
# AWS is the `aws` program to run (AWS CLI v1 from the bench's own venv). Exits non-zero when a
# call fails, a target is not healthy or the listener does not read back as written.
set -euo pipefail

aws=$1 cluster=$2 service=$3 tg=$4 listener=$5 actions=$6
desired=2

"$aws" ecs update-service --cluster "$cluster" --service "$service" \
	--desired-count "$desired" --output text --query 'service.serviceName' >/dev/null

while :; do
	running=$("$aws" ecs describe-services --cluster "$cluster" --services "$service" \
		--output text --query 'services[0].runningCount')
	[[ $running == "$desired" ]] && break
	sleep 1
done

states=$("$aws" elbv2 describe-target-health --target-group-arn "$tg" \
	--output text --query 'TargetHealthDescriptions[].TargetHealth.State')
for s in $states; do
	[[ $s == healthy ]] || {
		echo "cli-rollback: a target is $s" >&2
		exit 1
	}
done
[[ -n $states ]] || {
	echo "cli-rollback: no targets" >&2
	exit 1
}

"$aws" elbv2 modify-listener --listener-arn "$listener" --default-actions "$actions" \
	--output text --query 'Listeners[0].ListenerArn' >/dev/null

weight=$("$aws" elbv2 describe-listeners --listener-arns "$listener" --output text \
	--query "Listeners[0].DefaultActions[0].ForwardConfig.TargetGroups[?TargetGroupArn=='$tg'].Weight")
[[ $weight == 100 ]] || {
	echo "cli-rollback: the listener reads $weight, not 100" >&2
	exit 1
}
