#!/usr/bin/env python3
"""Do the real modules and the emulator stand-ins give bluegreen the same things to read?

    compare_module_shapes.py REAL_ENV REAL_OUTPUTS.json FAST_ENV FAST_OUTPUTS.json

Run by scripts/test-real-modules.sh with the emulator venv's Python, against one emulator
(AWS_ENDPOINT_URL) in which both environments have had one deploy of the same image: REAL_ENV
from modules/shared + modules/service with the real provider, FAST_ENV from modules/emulator/*.
Each *_OUTPUTS.json is the shared root's `terraform output -json`.

It reduces each environment to the shape of what bluegreen reads — the shared outputs (names
and types), and from AWS: the production and test listeners' actions, the target groups, the
live color's ECS service and task definition — with the environment-specific parts (ARNs,
names, IDs) replaced by what they refer to, and prints the differences. Exit 1 when there are
any. Extra routes one environment has and the other has not (local-fast's second listener) are
not compared: bluegreen reads every route through the same outputs.
"""

import json
import sys

import boto3


def kind(value):
    if value is None:
        return "null"
    if isinstance(value, dict):
        return {k: kind(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return "list"
    return type(value).__name__


# The shared root's outputs contract (docs/contract.md); a root may add informational outputs.
CONTRACT_OUTPUTS = (
    "listener_arn",
    "test_listener_arn",
    "target_group_arns",
    "cluster_name",
    "load_balancer_arn",
    "extra_listener_arns",
    "rule_arns",
)


def outputs_shape(outputs):
    return {name: kind(outputs[name]["value"]) if name in outputs else "missing" for name in CONTRACT_OUTPUTS}


def target_group_color(arn, tgs):
    for color, tg_arn in tgs.items():
        if arn == tg_arn:
            return color
    return "other"


def action_shape(actions, tgs):
    shaped = []
    for action in actions:
        entry = {"Type": action["Type"]}
        if action["Type"] == "forward":
            groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
            entry["TargetGroups"] = sorted(
                (target_group_color(g["TargetGroupArn"], tgs), g.get("Weight")) for g in groups
            )
        elif action["Type"] == "fixed-response":
            entry["StatusCode"] = action["FixedResponseConfig"]["StatusCode"]
        shaped.append(entry)
    return shaped


def aws_shape(env, outputs):
    elb, ecs = boto3.client("elbv2"), boto3.client("ecs")
    value = {name: o["value"] for name, o in outputs.items()}
    tgs = value["target_group_arns"]
    listeners = {}
    for name in ("listener_arn", "test_listener_arn"):
        found = elb.describe_listeners(ListenerArns=[value[name]])["Listeners"][0]
        listeners[name] = {
            "Protocol": found["Protocol"],
            "DefaultActions": action_shape(found["DefaultActions"], tgs),
        }
    groups = {}
    for color, arn in sorted(tgs.items()):
        tg = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        groups[color] = {
            "TargetGroupName": tg["TargetGroupName"].replace("bg-%s-" % env, "bg-<env>-"),
            "TargetType": tg["TargetType"],
            "Protocol": tg["Protocol"],
            "Port": tg["Port"],
            "HealthCheckPath": tg.get("HealthCheckPath"),
            "LoadBalancers": len(tg.get("LoadBalancerArns", [])),
        }
    service = ecs.describe_services(cluster=value["cluster_name"], services=["bg-%s-blue" % env])
    service = service["services"][0]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    container = task["containerDefinitions"][0]
    return {
        "cluster_name": value["cluster_name"].replace(env, "<env>"),
        "listeners": listeners,
        "target_groups": groups,
        "service": {
            "serviceName": service["serviceName"].replace(env, "<env>"),
            "status": service["status"],
            "launchType": service.get("launchType"),
            "desiredCount": service["desiredCount"],
            "loadBalancers": [
                {
                    "targetGroup": target_group_color(lb["targetGroupArn"], tgs),
                    "containerName": lb["containerName"],
                    "containerPort": lb["containerPort"],
                }
                for lb in service.get("loadBalancers", [])
            ],
        },
        "task_definition": {
            "family": task["family"].replace(env, "<env>"),
            "networkMode": task.get("networkMode"),
            "requiresCompatibilities": task.get("requiresCompatibilities"),
            "container": {
                "name": container["name"],
                "image": container["image"],
                "portMappings": [p["containerPort"] for p in container.get("portMappings", [])],
            },
        },
    }


def differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            where = "%s.%s" % (path, key) if path else key
            if key not in a or key not in b:
                yield "%s: only in %s" % (where, "the real modules" if key in a else "local-fast")
            else:
                yield from differences(a[key], b[key], where)
    elif a != b:
        yield "%s: real modules %s, stand-ins %s" % (path, json.dumps(a), json.dumps(b))


def main(argv):
    real_env, real_file, fast_env, fast_file = argv
    with open(real_file) as f:
        real = json.load(f)
    with open(fast_file) as f:
        fast = json.load(f)
    real_shape = {"outputs": outputs_shape(real), "aws": aws_shape(real_env, real)}
    fast_shape = {"outputs": outputs_shape(fast), "aws": aws_shape(fast_env, fast)}
    found = list(differences(real_shape, fast_shape))
    for line in found:
        print("shape differs: " + line)
    if not found:
        print("same outputs contract and AWS shapes: " + json.dumps(real_shape["aws"], sort_keys=True))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
