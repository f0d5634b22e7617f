#!/usr/bin/env python3
"""Create and delete bluegreen's AWS resources in the local emulator (moto).

The emulator modules (`modules/emulator/shared`, `modules/emulator/service`) are built from
Terraform's built-in `terraform_data` resource only, because the AWS provider cannot be
downloaded on the machines that run the emulator. Their `local-exec` provisioners call this
script without a shell:

    python bg_emulator.py <subcommand> '<json object of arguments>'

Subcommands:

    shared-apply     upsert VPC, subnets, security group, ALB, the blue/green target groups,
                     the production, extra production and test listeners, the production
                     listener's path rules and the ECS cluster
    shared-destroy   delete all of that
    service-apply    upsert one color: task definition revision, ECS service, emulated targets
    service-destroy  delete one color

Every subcommand is an idempotent upsert or delete: re-running it after a partial failure
converges. A provisioner cannot return values, so the apply subcommands write a record in the
format of a Terraform state file (outputs only) that the module reads back with the
`terraform_remote_state` data source; the destroy subcommands remove it.

The record is also how an apply finds what the previous apply created: when a stack's identity
changes (a new name, color or cluster), the apply creates the new resources and then deletes
the previous ones itself. Terraform cannot do that for us: destroy-time provisioners do not run
for objects replaced with create_before_destroy.

Endpoint, credentials and region come from the standard AWS environment (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_REGION`/`AWS_DEFAULT_REGION`, ...). As a guard against creating
emulator fixtures in a real account, the script refuses to talk to an `amazonaws.com` endpoint.
"""

import json
import os
import sys
import tempfile

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - depends on the interpreter
    sys.stderr.write(
        "bg-emulator: error: boto3 is not importable by %s; run bluegreen with the emulator's "
        "virtualenv first on PATH, or set the module variable `python`\n" % sys.executable
    )
    sys.exit(1)

# Shown by the production routes until bluegreen's first deploy installs the weighted forward.
NOT_DEPLOYED = {
    "Type": "fixed-response",
    "FixedResponseConfig": {
        "StatusCode": "503",
        "ContentType": "text/plain",
        "MessageBody": "no color deployed yet",
    },
}
STACK_TAG = "bluegreen:stack"
# Without a test listener, a rule on the production listener associates both target groups
# with the load balancer (see associate_action). It never matches a request: no TCP client
# has the limited broadcast address as its source. The last priority, away from path_rules.
ASSOCIATE_PRIORITY = 50000
NEVER_MATCHES = [{"Field": "source-ip", "SourceIpConfig": {"Values": ["255.255.255.255/32"]}}]
# The emulated targets of a color live in 127.0.<COLOR_OCTET>.0/24, so nothing routes off-box.
COLOR_OCTET = {"blue": 1, "green": 2}
CONTAINER_NAME = "app"


class Failure(Exception):
    """A problem the user has to fix; printed without a traceback."""


def say(message):
    print("bg-emulator: " + message, flush=True)


def error_code(exc):
    return exc.response.get("Error", {}).get("Code", "")


# ---------------------------------------------------------------- clients


class Aws:
    def __init__(self):
        session = boto3.session.Session()
        # botocore reads only AWS_DEFAULT_REGION; the other AWS SDKs (bluegreen's too) read
        # AWS_REGION, so accept either.
        region = session.region_name or os.environ.get("AWS_REGION")
        if not region:
            raise Failure("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION")
        self.ec2 = session.client("ec2", region_name=region)
        self.elbv2 = session.client("elbv2", region_name=region)
        self.ecs = session.client("ecs", region_name=region)
        for client in (self.ec2, self.elbv2, self.ecs):
            if "amazonaws.com" in client.meta.endpoint_url:
                raise Failure(
                    "refusing to run against %s: the emulator modules are for the local "
                    "emulator only; set AWS_ENDPOINT_URL to it (real AWS uses modules/shared "
                    "and modules/service)" % client.meta.endpoint_url
                )


# ---------------------------------------------------------------- records


def record_output(value, kind="string"):
    return {"value": value, "type": kind}


def write_record(path, outputs):
    """Write `outputs` as a Terraform state file that `terraform_remote_state` can read."""
    state = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "bluegreen-emulator",
        "outputs": outputs,
        "resources": [],
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # Write and rename so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".record-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    say("wrote outputs to %s" % path)


def read_record(path):
    """The outputs of a record as a plain dict, or {} when there is none."""
    try:
        with open(path) as f:
            state = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise Failure("cannot read the record %s: %s" % (path, exc))
    return {k: v.get("value") for k, v in state.get("outputs", {}).items()}


def remove_record(path):
    try:
        os.remove(path)
        say("removed %s" % path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- shared: network


def find_vpc(aws, name):
    vpcs = aws.ec2.describe_vpcs(Filters=[{"Name": "tag:" + STACK_TAG, "Values": [name]}])["Vpcs"]
    return vpcs[0]["VpcId"] if vpcs else None


def ensure_vpc(aws, name):
    vpc_id = find_vpc(aws, name)
    if vpc_id:
        return vpc_id
    vpc_id = aws.ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": stack_tags(name, name)}],
    )["Vpc"]["VpcId"]
    say("created VPC %s" % vpc_id)
    return vpc_id


def stack_tags(name, resource_name):
    return [{"Key": STACK_TAG, "Value": name}, {"Key": "Name", "Value": resource_name}]


def ensure_subnets(aws, name, vpc_id):
    """Two subnets in different availability zones: an ALB needs at least two."""
    zones = sorted(
        z["ZoneName"]
        for z in aws.ec2.describe_availability_zones()["AvailabilityZones"]
        if z.get("State", "available") == "available"
    )
    if len(zones) < 2:
        raise Failure("the region offers fewer than two availability zones: %s" % zones)
    subnet_ids = []
    for index, zone in enumerate(zones[:2]):
        cidr = "10.0.%d.0/24" % index
        found = aws.ec2.describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "cidr-block", "Values": [cidr]},
            ]
        )["Subnets"]
        if found:
            subnet_ids.append(found[0]["SubnetId"])
            continue
        subnet_id = aws.ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": stack_tags(name, "%s-%s" % (name, zone))}
            ],
        )["Subnet"]["SubnetId"]
        say("created subnet %s in %s" % (subnet_id, zone))
        subnet_ids.append(subnet_id)
    return subnet_ids


def find_security_group(aws, name, vpc_id):
    groups = aws.ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": [name + "-alb"]},
        ]
    )["SecurityGroups"]
    return groups[0]["GroupId"] if groups else None


def ensure_security_group(aws, name, vpc_id):
    group_id = find_security_group(aws, name, vpc_id)
    if group_id:
        return group_id
    group_id = aws.ec2.create_security_group(
        GroupName=name + "-alb",
        Description="bluegreen emulator ALB " + name,
        VpcId=vpc_id,
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": stack_tags(name, name + "-alb")}
        ],
    )["GroupId"]
    say("created security group %s" % group_id)
    return group_id


# ---------------------------------------------------------------- shared: load balancer


def find_load_balancer(aws, name):
    try:
        lbs = aws.elbv2.describe_load_balancers(Names=[name + "-alb"])["LoadBalancers"]
    except ClientError as exc:
        if error_code(exc) == "LoadBalancerNotFound":
            return None
        raise
    return lbs[0]["LoadBalancerArn"] if lbs else None


def ensure_load_balancer(aws, name, subnet_ids, group_id):
    # The emulator does not reject a second load balancer with the same name: look first.
    arn = find_load_balancer(aws, name)
    if arn:
        return arn
    arn = aws.elbv2.create_load_balancer(
        Name=name + "-alb",
        Subnets=subnet_ids,
        SecurityGroups=[group_id],
        Scheme="internet-facing",
        Type="application",
        IpAddressType="ipv4",
        Tags=[{"Key": STACK_TAG, "Value": name}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    say("created load balancer %s-alb" % name)
    return arn


def find_target_group(aws, tg_name):
    try:
        groups = aws.elbv2.describe_target_groups(Names=[tg_name])["TargetGroups"]
    except ClientError as exc:
        if error_code(exc) == "TargetGroupNotFound":
            return None
        raise
    return groups[0] if groups else None


# The fastest health checks ALB allows (5 s interval, 2 of 2): the local data plane runs them
# (docs/dataplane.md), and a new task is healthy about 5 s after it is registered instead of the
# 2 minutes ALB's defaults (30 s, 5 checks) would take.
HEALTH_CHECK = {
    "HealthCheckIntervalSeconds": 5,
    "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2,
    "UnhealthyThresholdCount": 2,
}


def ensure_target_group(aws, name, color, vpc_id, health_check_path):
    tg_name = "%s-%s" % (name, color)
    group = find_target_group(aws, tg_name)
    if group is None:
        arn = aws.elbv2.create_target_group(
            Name=tg_name,
            Protocol="HTTP",
            Port=80,
            VpcId=vpc_id,
            TargetType="ip",
            HealthCheckProtocol="HTTP",
            HealthCheckPath=health_check_path,
            Matcher={"HttpCode": "200-399"},
            Tags=[{"Key": STACK_TAG, "Value": name}, {"Key": "bluegreen:color", "Value": color}],
            **HEALTH_CHECK,
        )["TargetGroups"][0]["TargetGroupArn"]
        say("created target group %s" % tg_name)
        return arn
    wanted = dict(HEALTH_CHECK, HealthCheckPath=health_check_path)
    if any(group.get(k) != v for k, v in wanted.items()):
        aws.elbv2.modify_target_group(TargetGroupArn=group["TargetGroupArn"], **wanted)
        say("set the health check of %s (path %s)" % (tg_name, health_check_path))
    return group["TargetGroupArn"]


def listeners_of(aws, lb_arn):
    return aws.elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]


def start_action(color, tgs):
    """What a new extra listener or path rule does: the 503, or everything to `color`."""
    if color is None:
        return NOT_DEPLOYED
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": tgs[c], "Weight": 100 if c == color else 0}
                for c in ("blue", "green")
            ]
        },
    }


def associate_action(tgs):
    """The test listener's first action: forward to both target groups (blue 100, green 0).

    ECS refuses to create a service on a target group that no listener or rule of a load
    balancer forwards to ("The target group with targetGroupArn ... does not have an associated
    load balancer."), and a first deploy creates a color's service before any production route
    forwards to it. So both target groups are associated from the start, through the test
    listener (or, without one, a rule that never matches). The weights do not matter: bluegreen
    points the test listener at the idle color before any smoke check."""
    return start_action("blue", tgs)


def describe_start(action):
    if action["Type"] == "forward":
        weights = [t["Weight"] for t in action["ForwardConfig"]["TargetGroups"]]
        return "forward blue %d / green %d" % tuple(weights)
    return "503 until the first deploy"


def ensure_listener(aws, lb_arn, port, previous_arn, what, taken, action=NOT_DEPLOYED):
    """The listener on `port`. Its default action is set only when it is created: from then on
    bluegreen owns it, and re-applying the stack must never put traffic back. `taken` holds
    the listeners other roles already claimed; they are never moved."""
    listeners = listeners_of(aws, lb_arn)
    for listener in listeners:
        if listener["Port"] == port:
            return listener["ListenerArn"]
    for listener in listeners:
        if listener["ListenerArn"] == previous_arn and previous_arn not in taken:
            # The port changed: move the listener and keep whatever action bluegreen set.
            aws.elbv2.modify_listener(ListenerArn=previous_arn, Port=port)
            say("moved the %s listener to port %d" % (what, port))
            return previous_arn
    arn = aws.elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port, DefaultActions=[action]
    )["Listeners"][0]["ListenerArn"]
    say("created %s listener on port %d (%s)" % (what, port, describe_start(action)))
    return arn


def ensure_extra_listeners(aws, lb_arn, ports, previous_arns, taken, action):
    """One listener per port, in the order of `ports`. A listener already on a port is kept;
    a previously recorded one whose port left the list moves to a new port (keeping its
    action, like the production listener); only the ports left over get a new listener."""
    on_port = {l["Port"]: l["ListenerArn"] for l in listeners_of(aws, lb_arn)}
    arns = {port: on_port[port] for port in ports if port in on_port}
    claimed = set(taken) | set(arns.values())
    spare = [a for a in previous_arns if a in on_port.values() and a not in claimed]
    for port in ports:
        if port in arns:
            continue
        if spare:
            arns[port] = spare.pop(0)
            aws.elbv2.modify_listener(ListenerArn=arns[port], Port=port)
            say("moved an extra production listener to port %d" % port)
        else:
            arns[port] = ensure_listener(aws, lb_arn, port, None, "extra production", taken, action)
    return [arns[port] for port in ports]


def prune_listeners(aws, lb_arn, previous_arns, keep):
    """Delete the listeners the previous apply recorded that no role claims any more."""
    present = {l["ListenerArn"]: l["Port"] for l in listeners_of(aws, lb_arn)}
    for arn in previous_arns:
        if arn and arn in present and arn not in keep:
            aws.elbv2.delete_listener(ListenerArn=arn)
            say("deleted the listener on port %d" % present[arn])


# ---------------------------------------------------------------- shared: listener rules


def path_condition(pattern):
    return [{"Field": "path-pattern", "PathPatternConfig": {"Values": [pattern]}}]


def rule_path(rule):
    """The single path pattern a rule matches, or None when its conditions are anything else.
    Both spellings are read: AWS returns Values and PathPatternConfig, moto echoes the one it
    was given."""
    conditions = rule.get("Conditions", [])
    if len(conditions) != 1 or conditions[0].get("Field") != "path-pattern":
        return None
    condition = conditions[0]
    values = condition.get("PathPatternConfig", {}).get("Values") or condition.get("Values") or []
    return values[0] if len(values) == 1 else None


def listener_rules(aws, listener_arn):
    """The listener's own rules (not its default rule), by priority."""
    rules = []
    for page in aws.elbv2.get_paginator("describe_rules").paginate(ListenerArn=listener_arn):
        rules += [r for r in page["Rules"] if not r.get("IsDefault")]
    return {int(r["Priority"]): r for r in rules}


def tagged_ours(aws, name, arns):
    """The subset of `arns` tagged as this stack's: how rules are recognised when the record
    that lists them is gone."""
    ours = set()
    arns = list(arns)
    for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
        described = aws.elbv2.describe_tags(ResourceArns=arns[start : start + 20])
        for d in described["TagDescriptions"]:
            if {"Key": STACK_TAG, "Value": name} in d.get("Tags", []):
                ours.add(d["ResourceArn"])
    return ours


def ensure_path_rules(aws, name, listener_arn, patterns, previous_arns, action):
    """Rule i (priority i + 1) of the production listener matches patterns[i]. A rule that
    exists keeps its action, which bluegreen owns: only its condition is set, so editing or
    reordering the patterns never touches traffic weights. Rules past the end of the list are
    deleted. Priorities 1..len(patterns) belong to this stack; a foreign rule there is an
    error."""
    by_priority = listener_rules(aws, listener_arn)
    by_priority.pop(ASSOCIATE_PRIORITY, None)  # ensure_associate_rule's, not a path rule
    present = {r["RuleArn"] for r in by_priority.values()}
    ours = (set(previous_arns) & present) | tagged_ours(aws, name, present)
    arns = []
    for index, pattern in enumerate(patterns):
        priority = index + 1
        rule = by_priority.get(priority)
        if rule is None:
            arn = aws.elbv2.create_rule(
                ListenerArn=listener_arn,
                Priority=priority,
                Conditions=path_condition(pattern),
                Actions=[action],
                Tags=[{"Key": STACK_TAG, "Value": name}],
            )["Rules"][0]["RuleArn"]
            say("created rule %d (%s) on the production listener (%s)"
                % (priority, pattern, describe_start(action)))
        elif rule["RuleArn"] not in ours:
            raise Failure(
                "priority %d of the production listener is taken by rule %s, which this stack "
                "did not create; delete it or move it past priority %d"
                % (priority, rule["RuleArn"], len(patterns))
            )
        else:
            arn = rule["RuleArn"]
            if rule_path(rule) != pattern:
                # Conditions only: the action is bluegreen's.
                aws.elbv2.modify_rule(RuleArn=arn, Conditions=path_condition(pattern))
                say("set rule %d of the production listener to %s" % (priority, pattern))
        arns.append(arn)
    for priority, rule in sorted(by_priority.items()):
        if priority > len(patterns) and rule["RuleArn"] in ours:
            aws.elbv2.delete_rule(RuleArn=rule["RuleArn"])
            say("deleted rule %d (%s) of the production listener" % (priority, rule_path(rule)))
    return arns


def ensure_associate_rule(aws, name, listener_arn, tgs, wanted):
    """Without a test listener, the rule that associates both target groups with the load
    balancer (see associate_action); with one, none. Created once, then left alone."""
    rule = listener_rules(aws, listener_arn).get(ASSOCIATE_PRIORITY)
    if rule is not None and rule["RuleArn"] not in tagged_ours(aws, name, [rule["RuleArn"]]):
        raise Failure(
            "priority %d of the production listener is taken by rule %s, which this stack did "
            "not create; this stack keeps that priority for the rule that associates the "
            "target groups with the load balancer" % (ASSOCIATE_PRIORITY, rule["RuleArn"])
        )
    if wanted and rule is None:
        aws.elbv2.create_rule(
            ListenerArn=listener_arn,
            Priority=ASSOCIATE_PRIORITY,
            Conditions=NEVER_MATCHES,
            Actions=[associate_action(tgs)],
            Tags=[{"Key": STACK_TAG, "Value": name}],
        )
        say("created the rule that associates both target groups (never matches a request)")
    elif not wanted and rule is not None:
        aws.elbv2.delete_rule(RuleArn=rule["RuleArn"])
        say("deleted the associating rule: the test listener associates the target groups")


# ---------------------------------------------------------------- shared: cluster


def cluster_status(aws, cluster):
    clusters = aws.ecs.describe_clusters(clusters=[cluster])["clusters"]
    return clusters[0]["status"] if clusters else None


def ensure_cluster(aws, name):
    # The emulator's CreateCluster replaces an existing cluster object: only create if missing.
    if cluster_status(aws, name) == "ACTIVE":
        return
    aws.ecs.create_cluster(clusterName=name, tags=[{"key": STACK_TAG, "value": name}])
    say("created ECS cluster %s" % name)


def active_services(aws, cluster):
    arns = aws.ecs.list_services(cluster=cluster)["serviceArns"]
    if not arns:
        return []
    services = []
    for start in range(0, len(arns), 10):
        described = aws.ecs.describe_services(cluster=cluster, services=arns[start : start + 10])
        services += [s["serviceName"] for s in described["services"] if s["status"] != "INACTIVE"]
    return services


# ---------------------------------------------------------------- shared: subcommands


def refuse_if_services(aws, cluster, why):
    # Like ECS itself: a cluster with live services is not deleted. Checked before anything
    # is touched, so a refused operation leaves the stack whole.
    if cluster_status(aws, cluster) == "ACTIVE":
        live = active_services(aws, cluster)
        if live:
            raise Failure(
                "%s would delete ECS cluster %s, which still has services %s: destroy the "
                "service stacks (both colors) first" % (why, cluster, ", ".join(sorted(live)))
            )


def check_ports(args):
    test_port = args["test_listener_port"] if args["test_listener"] else None
    if test_port == args["listener_port"]:
        raise Failure("test_listener_port must differ from listener_port")
    extra = args["extra_listener_ports"]
    if len(set(extra)) != len(extra):
        raise Failure("extra_listener_ports must not repeat a port: %s" % extra)
    if {args["listener_port"], test_port} & set(extra):
        raise Failure("extra_listener_ports must not include listener_port or test_listener_port")
    if len(set(args["path_rules"])) != len(args["path_rules"]):
        raise Failure("path_rules must not repeat a pattern: %s" % args["path_rules"])
    if args.get("route_start_color") not in (None, "blue", "green"):
        raise Failure("route_start_color must be null, blue or green")
    return test_port


def shared_apply(aws, args):
    name = args["name"]
    test_port = check_ports(args)
    previous = read_record(args["record"])
    old_name = previous.get("cluster_name")
    renamed = old_name is not None and old_name != name
    if renamed:
        refuse_if_services(aws, old_name, "renaming the shared stack from %s" % old_name)
        previous = {}

    vpc_id = ensure_vpc(aws, name)
    subnet_ids = ensure_subnets(aws, name, vpc_id)
    group_id = ensure_security_group(aws, name, vpc_id)
    lb_arn = ensure_load_balancer(aws, name, subnet_ids, group_id)
    tgs = {
        color: ensure_target_group(aws, name, color, vpc_id, args["health_check_path"])
        for color in ("blue", "green")
    }
    new_route = start_action(args.get("route_start_color"), tgs)
    # Each role claims its listener in turn, so that no listener serves two roles; the
    # previously recorded listeners nobody claimed are deleted at the end.
    listener_arn = ensure_listener(
        aws, lb_arn, args["listener_port"], previous.get("listener_arn"), "production", set()
    )
    taken = {listener_arn}
    test_listener_arn = None
    if test_port is not None:
        test_listener_arn = ensure_listener(
            aws, lb_arn, test_port, previous.get("test_listener_arn"), "test", taken,
            associate_action(tgs),
        )
        taken.add(test_listener_arn)
    previous_extra = previous.get("extra_listener_arns") or []
    extra_arns = ensure_extra_listeners(
        aws, lb_arn, args["extra_listener_ports"], previous_extra, taken, new_route
    )
    taken.update(extra_arns)
    recorded = [previous.get("listener_arn"), previous.get("test_listener_arn")] + previous_extra
    prune_listeners(aws, lb_arn, recorded, taken)
    rule_arns = ensure_path_rules(
        aws, name, listener_arn, args["path_rules"], previous.get("rule_arns") or [], new_route
    )
    ensure_associate_rule(aws, name, listener_arn, tgs, wanted=test_port is None)
    ensure_cluster(aws, name)
    if renamed:
        delete_shared_stack(aws, old_name)

    write_record(
        args["record"],
        {
            "listener_arn": record_output(listener_arn),
            "test_listener_arn": record_output(test_listener_arn),
            "extra_listener_arns": record_output(extra_arns, ["list", "string"]),
            "rule_arns": record_output(rule_arns, ["list", "string"]),
            "target_group_arns": record_output(
                tgs, ["object", {"blue": "string", "green": "string"}]
            ),
            "cluster_name": record_output(name),
            "load_balancer_arn": record_output(lb_arn),
        },
    )
    say("shared stack %s is up" % name)


def delete_shared_stack(aws, name):
    lb_arn = find_load_balancer(aws, name)
    if lb_arn:
        for listener in listeners_of(aws, lb_arn):
            aws.elbv2.delete_listener(ListenerArn=listener["ListenerArn"])
            say("deleted listener on port %d" % listener["Port"])
        aws.elbv2.delete_load_balancer(LoadBalancerArn=lb_arn)
        say("deleted load balancer %s-alb" % name)
    for color in ("blue", "green"):
        group = find_target_group(aws, "%s-%s" % (name, color))
        if group:
            aws.elbv2.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
            say("deleted target group %s-%s" % (name, color))
    if cluster_status(aws, name) == "ACTIVE":
        aws.ecs.delete_cluster(cluster=name)
        say("deleted ECS cluster %s" % name)

    vpc_id = find_vpc(aws, name)
    if vpc_id:
        group_id = find_security_group(aws, name, vpc_id)
        if group_id:
            aws.ec2.delete_security_group(GroupId=group_id)
            say("deleted security group %s" % group_id)
        subnets = aws.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
        for subnet in subnets["Subnets"]:
            aws.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
            say("deleted subnet %s" % subnet["SubnetId"])
        aws.ec2.delete_vpc(VpcId=vpc_id)
        say("deleted VPC %s" % vpc_id)
    say("shared stack %s is gone" % name)


def shared_destroy(aws, args):
    # The stack named in the record too: it differs from `name` when an apply that renamed the
    # stack failed half-way.
    names = [args["name"]]
    recorded = read_record(args["record"]).get("cluster_name")
    if recorded and recorded != args["name"]:
        names.append(recorded)
    for name in names:
        refuse_if_services(aws, name, "destroying the shared stack")
    for name in names:
        delete_shared_stack(aws, name)
    remove_record(args["record"])


# ---------------------------------------------------------------- service: task definitions


def family_revisions(aws, family):
    """ACTIVE revision ARNs of `family`, oldest first."""
    arns, token = [], None
    while True:
        kwargs = {"familyPrefix": family, "status": "ACTIVE", "sort": "ASC"}
        if token:
            kwargs["nextToken"] = token
        page = aws.ecs.list_task_definitions(**kwargs)
        # familyPrefix is a prefix: "app-blue" would also match "app-blue2".
        arns += [a for a in page["taskDefinitionArns"] if a.split("/")[-1].split(":")[0] == family]
        token = page.get("nextToken")
        if not token:
            return arns


def wanted_task_definition(args):
    container = {
        "name": CONTAINER_NAME,
        "image": args["image"],
        "essential": True,
        "portMappings": [{"containerPort": args["container_port"], "protocol": "tcp"}],
        "environment": [
            {"name": k, "value": v} for k, v in sorted(args.get("environment", {}).items())
        ],
    }
    return {
        "family": "%s-%s" % (args["name"], args["color"]),
        "containerDefinitions": [container],
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(args["cpu"]),
        "memory": str(args["memory"]),
    }


def same_task_definition(described, wanted):
    def key(td):
        c = td["containerDefinitions"][0]
        ports = [p.get("containerPort") for p in c.get("portMappings", [])]
        env = sorted((e["name"], e["value"]) for e in c.get("environment", []))
        sizes = (str(td.get("cpu")), str(td.get("memory")))
        return (c.get("name"), c.get("image"), ports, env) + sizes

    return key(described) == key(wanted)


def ensure_task_definition(aws, args):
    """Register a revision, unless the newest ACTIVE one already is what we want (a retry)."""
    wanted = wanted_task_definition(args)
    revisions = family_revisions(aws, wanted["family"])
    if revisions:
        newest = aws.ecs.describe_task_definition(taskDefinition=revisions[-1])["taskDefinition"]
        if same_task_definition(newest, wanted):
            return revisions[-1]
    arn = aws.ecs.register_task_definition(**wanted)["taskDefinition"]["taskDefinitionArn"]
    say("registered task definition %s" % arn.split("/")[-1])
    return arn


def deregister_revisions(aws, family, keep=None):
    for arn in family_revisions(aws, family):
        if arn != keep:
            aws.ecs.deregister_task_definition(taskDefinition=arn)
            say("deregistered task definition %s" % arn.split("/")[-1])


# ---------------------------------------------------------------- service: ECS service


def describe_service(aws, cluster, service):
    try:
        found = aws.ecs.describe_services(cluster=cluster, services=[service])["services"]
    except ClientError as exc:
        if error_code(exc) == "ClusterNotFoundException":
            return None
        raise
    found = [s for s in found if s["status"] != "INACTIVE"]
    return found[0] if found else None


def ensure_service(aws, args, service, td_arn):
    cluster = args["cluster_name"]
    load_balancers = [
        {
            "targetGroupArn": args["target_group_arn"],
            "containerName": CONTAINER_NAME,
            "containerPort": args["container_port"],
        }
    ]
    current = describe_service(aws, cluster, service)
    if current is None:
        # desiredCount 0: bluegreen scales the color up when it deploys to it.
        aws.ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=td_arn,
            desiredCount=0,
            launchType="FARGATE",
            loadBalancers=load_balancers,
            tags=[{"key": "bluegreen:color", "value": args["color"]}],
        )
        say("created ECS service %s in %s (desired count 0)" % (service, cluster))
        return
    update = {}
    if current.get("taskDefinition") != td_arn:
        update["taskDefinition"] = td_arn
    if current.get("loadBalancers") != load_balancers:
        update["loadBalancers"] = load_balancers
    if update:
        # No desiredCount here: bluegreen owns the size of each color.
        aws.ecs.update_service(cluster=cluster, service=service, **update)
        say("updated ECS service %s: %s" % (service, ", ".join(sorted(update))))


# ---------------------------------------------------------------- service: emulated targets


def color_prefix(color):
    return "127.0.%d." % COLOR_OCTET[color]


def registered_targets(aws, tg_arn, prefix):
    """Targets of `tg_arn` in the color's loopback range, or None when the group is gone."""
    try:
        health = aws.elbv2.describe_target_health(TargetGroupArn=tg_arn)
    except ClientError as exc:
        if error_code(exc) == "TargetGroupNotFound":
            return None
        raise
    return [
        {"Id": d["Target"]["Id"], "Port": d["Target"]["Port"]}
        for d in health["TargetHealthDescriptions"]
        if d["Target"]["Id"].startswith(prefix)
    ]


def deregister(aws, tg_arn, targets):
    if targets:
        aws.elbv2.deregister_targets(TargetGroupArn=tg_arn, Targets=targets)
        say("deregistered %s" % ", ".join(t["Id"] for t in targets))


def ensure_targets(aws, args):
    """ECS would register the tasks' IPs in the target group; the emulator runs no tasks, so
    register `emulated_targets` loopback addresses in the color's range instead."""
    tg_arn, prefix = args["target_group_arn"], color_prefix(args["color"])
    wanted = [
        {"Id": "%s%d" % (prefix, n), "Port": args["container_port"]}
        for n in range(1, args["emulated_targets"] + 1)
    ]
    present = registered_targets(aws, tg_arn, prefix)
    if present is None:
        raise Failure("target group %s does not exist: apply the shared stack first" % tg_arn)
    deregister(aws, tg_arn, [t for t in present if t not in wanted])
    missing = [t for t in wanted if t not in present]
    if missing:
        aws.elbv2.register_targets(TargetGroupArn=tg_arn, Targets=missing)
        say("registered %s" % ", ".join("%s:%d" % (t["Id"], t["Port"]) for t in missing))


# ---------------------------------------------------------------- service: subcommands


def delete_service(aws, cluster, service):
    """Scale the service to 0, delete it and deregister its family's task definitions."""
    if describe_service(aws, cluster, service):
        aws.ecs.update_service(cluster=cluster, service=service, desiredCount=0)
        aws.ecs.delete_service(cluster=cluster, service=service, force=True)
        say("deleted ECS service %s from %s" % (service, cluster))
    deregister_revisions(aws, service)


def deregister_color(aws, tg_arn, color):
    if tg_arn and color in COLOR_OCTET:
        deregister(aws, tg_arn, registered_targets(aws, tg_arn, color_prefix(color)) or [])


def service_apply(aws, args):
    if args["color"] not in COLOR_OCTET:
        raise Failure("color must be blue or green, not %r" % args["color"])
    cluster = args["cluster_name"]
    if cluster_status(aws, cluster) != "ACTIVE":
        raise Failure("ECS cluster %s does not exist: apply the shared stack first" % cluster)
    service = "%s-%s" % (args["name"], args["color"])
    previous = read_record(args["record"])

    td_arn = ensure_task_definition(aws, args)
    ensure_service(aws, args, service, td_arn)
    # What replacing an aws_ecs_task_definition does: the old revision goes INACTIVE.
    deregister_revisions(aws, service, keep=td_arn)
    # A new name, color or cluster is a new service: retire what the previous apply created.
    old_service, old_cluster = previous.get("service_name"), previous.get("cluster_name")
    if old_service and (old_service, old_cluster) != (service, cluster):
        delete_service(aws, old_cluster, old_service)
    old_tg, old_color = previous.get("target_group_arn"), previous.get("color")
    if old_tg and (old_tg, old_color) != (args["target_group_arn"], args["color"]):
        deregister_color(aws, old_tg, old_color)
    ensure_targets(aws, args)

    write_record(
        args["record"],
        {
            "service_name": record_output(service),
            "cluster_name": record_output(cluster),
            "target_group_arn": record_output(args["target_group_arn"]),
            "task_definition_arn": record_output(td_arn),
            "image": record_output(args["image"]),
            "color": record_output(args["color"]),
        },
    )
    say("service %s runs %s" % (service, td_arn.split("/")[-1]))


def service_destroy(aws, args):
    # What the record names too: it differs from the inputs when an apply that changed the
    # service's identity failed half-way.
    record = read_record(args["record"])
    service = "%s-%s" % (args["name"], args["color"])
    stacks = [(args["cluster_name"], service, args["target_group_arn"], args["color"])]
    if record.get("service_name"):
        recorded = (
            record["cluster_name"],
            record["service_name"],
            record.get("target_group_arn"),
            record.get("color"),
        )
        if recorded != stacks[0]:
            stacks.append(recorded)
    for cluster, service, tg_arn, color in stacks:
        delete_service(aws, cluster, service)
        deregister_color(aws, tg_arn, color)
        say("service %s is gone" % service)
    remove_record(args["record"])


# ---------------------------------------------------------------- main

SHARED_APPLY_ARGS = (
    "name listener_port test_listener test_listener_port extra_listener_ports path_rules "
    "health_check_path record"
)
SERVICE_APPLY_ARGS = (
    "name color image target_group_arn cluster_name container_port cpu memory "
    "emulated_targets record"
)
# subcommand -> (function, the arguments it requires)
SUBCOMMANDS = {
    "shared-apply": (shared_apply, SHARED_APPLY_ARGS.split()),
    "shared-destroy": (shared_destroy, "name record".split()),
    "service-apply": (service_apply, SERVICE_APPLY_ARGS.split()),
    "service-destroy": (
        service_destroy,
        "name color cluster_name target_group_arn record".split(),
    ),
}


def main(argv):
    if len(argv) != 3 or argv[1] not in SUBCOMMANDS:
        sys.stderr.write(
            "usage: bg_emulator.py {%s} '<json arguments>'\n" % ",".join(sorted(SUBCOMMANDS))
        )
        return 2
    subcommand = argv[1]
    function, required = SUBCOMMANDS[subcommand]
    try:
        args = json.loads(argv[2])
        if not isinstance(args, dict):
            raise ValueError("expected a JSON object")
        missing = [name for name in required if args.get(name) is None]
        if missing:
            raise ValueError("missing " + ", ".join(missing))
    except ValueError as exc:
        sys.stderr.write("bg-emulator: error: %s: bad arguments: %s\n" % (subcommand, exc))
        return 2
    try:
        function(Aws(), args)
    except Failure as exc:
        sys.stderr.write("bg-emulator: error: %s: %s\n" % (subcommand, exc))
        return 1
    except ClientError as exc:
        err = exc.response.get("Error", {})
        sys.stderr.write(
            "bg-emulator: error: %s: %s failed: %s: %s\n"
            % (subcommand, exc.operation_name, err.get("Code"), err.get("Message"))
        )
        return 1
    except BotoCoreError as exc:
        # No credentials, endpoint unreachable, ...: botocore's message names the cause.
        sys.stderr.write("bg-emulator: error: %s: %s\n" % (subcommand, exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
