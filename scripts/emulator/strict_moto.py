#!/usr/bin/env python3
"""moto in server mode, made as strict as AWS where bluegreen depends on it.

    python strict_moto.py [-H HOST] [-p PORT] [moto_server's other flags]
    python strict_moto.py --list                 name and summary of every patch
    python strict_moto.py --without NAME ...     leave one patch out (repeatable; for diagnosis)

Run it with the emulator venv's python (scripts/emulator.sh and tests/common/emulator.rs do).
It applies the patches below to moto's classes, then serves exactly as `moto_server` does: the
flags after ours go to `moto.server.main` unchanged.

moto accepts a few requests that AWS refuses, and drops a few parameters that AWS keeps. Where
that hides a bug that would only show on AWS (a first deploy in the wrong order, two
environments sharing a load balancer name, a `terraform destroy` that AWS would stop), this
launcher copies AWS. Each patch is one function below: its docstring names the AWS behaviour it
copies and AWS's exact error code and text, and `test_strict_moto.py` next to this file tests
it against a running server. docs/emulator.md lists them.

Patches replace methods of moto's backend classes (the model layer), which every request of
every region and account goes through; the one exception, ecs-create-service-keeps-settings,
wraps a response handler, because that is where moto drops the parameters. moto's version is
pinned in scripts/emulator-requirements.txt; a bump that moves what a patch wraps fails here
at start (a missing attribute), not silently.
"""

import argparse
import functools
import inspect
import sys

PATCHES = {}


def patch(name):
    """Register a patch function under `name` (applied in registration order)."""

    def register(function):
        PATCHES[name] = function
        return function

    return register


def wrap(cls, method_name):
    """Decorator: replace `cls.method_name` with the decorated function, which receives the
    original as its first argument."""
    original = getattr(cls, method_name)  # AttributeError: moto moved it; fail at start

    def decorate(replacement):
        @functools.wraps(original)
        def method(self, *args, **kwargs):
            return replacement(original, self, *args, **kwargs)

        setattr(cls, method_name, method)
        return method

    return decorate


def bind(function, self, args, kwargs):
    """The arguments of a call to `function`, by parameter name, defaults applied: moto's
    response layer passes some by position and some by keyword."""
    bound = inspect.signature(function).bind(self, *args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


# ------------------------------------------------------------------------------------------- ECS

# CreateService request parameter -> attribute of moto's Service object. moto's DescribeServices
# serializer reads the attribute by the snake_case spelling of the response member, which is
# also what UpdateService sets.
KEPT_SERVICE_SETTINGS = {
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "enableECSManagedTags": "enable_ecs_managed_tags",
    "availabilityZoneRebalancing": "availability_zone_rebalancing",
    "deploymentConfiguration": "deployment_configuration",
}


@patch("ecs-create-service-keeps-settings")
def ecs_create_service_keeps_settings():
    """ECS CreateService keeps healthCheckGracePeriodSeconds, enableECSManagedTags,
    availabilityZoneRebalancing and deploymentConfiguration, and DescribeServices (and the
    CreateService response) return them, as AWS does.

    moto 5.2.x reads only some CreateService parameters and drops these four, although its
    UpdateService keeps them. With the real hashicorp/aws provider a color's second
    `terraform plan` then shows a change to put them back: on AWS it is a no-op. No error is
    involved. The parameters are dropped in moto's response handler (it never passes them to
    the backend), so this is the one patch that wraps the HTTP layer: it reads them from the
    request and stores them on the service the backend created.
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    @wrap(EC2ContainerServiceResponse, "create_service")
    def create_service(original, self):
        given = {attr: self._get_param(param) for param, attr in KEPT_SERVICE_SETTINGS.items()}
        result = original(self)
        service = result.result["service"]
        for attr, value in given.items():
            if value is not None:
                setattr(service, attr, value)
        return result


def target_group_is_associated(target_group_arn):
    """Whether a listener's default action or a rule of any load balancer forwards to the
    target group (any weight, 0 included), as ELBv2 reports it in a target group's
    LoadBalancerArns. None when the target group does not exist in the emulator."""
    from moto.elbv2.models import elbv2_backends

    parts = target_group_arn.split(":")
    if len(parts) < 6 or parts[2] != "elasticloadbalancing":
        return None
    region, account = parts[3], parts[4]
    backend = elbv2_backends[account][region]
    if target_group_arn not in backend.target_groups:
        return None
    for load_balancer in backend.load_balancers.values():
        for listener in load_balancer.listeners.values():
            # `rules` includes the listener's default rule, whose actions are its default
            # actions (ModifyListener keeps them in step).
            for rule in listener.rules.values():
                for action in rule.actions:
                    if action.type != "forward":
                        continue
                    if target_group_arn in backend._get_target_group_arns_from(action.data):
                        return True
    return False


def refuse_unassociated_target_groups(load_balancers):
    from moto.ecs.exceptions import InvalidParameterException

    for entry in load_balancers or []:
        arn = entry.get("targetGroupArn")
        if arn and target_group_is_associated(arn) is False:
            raise InvalidParameterException(
                "The target group with targetGroupArn %s does not have an associated load "
                "balancer." % arn
            )


@patch("ecs-service-target-group-needs-load-balancer")
def ecs_service_target_group_needs_load_balancer():
    """ECS CreateService, and UpdateService with loadBalancers, refuse a target group that no
    listener or rule of a load balancer forwards to, as AWS does:

        InvalidParameterException: The target group with targetGroupArn <arn> does not have an
        associated load balancer.

    A forward with weight 0 counts as associated (ELBv2 lists the load balancer in the target
    group's LoadBalancerArns either way). This is the error a first deploy gets on AWS when a
    color's service is created before any listener or rule forwards to its target group; moto
    accepts it. A target group that does not exist in the emulator is left to moto (accepted):
    AWS's text for that case is not verified here. The cluster and service are looked up first,
    so ClusterNotFoundException and ServiceNotFoundException keep their precedence.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    @wrap(EC2ContainerServiceBackend, "create_service")
    def create_service(original, self, *args, **kwargs):
        call = bind(original, self, args, kwargs)
        self._get_cluster(call["cluster_str"])
        refuse_unassociated_target_groups(call["load_balancers"])
        return original(self, *args, **kwargs)

    @wrap(EC2ContainerServiceBackend, "update_service")
    def update_service(original, self, service_properties):
        cluster = service_properties.get("cluster", "default")
        self._get_service(cluster, service_properties["service"].split("/")[-1])
        refuse_unassociated_target_groups(service_properties.get("load_balancers"))
        return original(self, service_properties)


@patch("ecs-create-service-refuses-duplicate-name")
def ecs_create_service_refuses_duplicate_name():
    """ECS CreateService refuses a service name that an ACTIVE service of the cluster already
    has, as AWS does:

        InvalidParameterException: Creation of service was not idempotent.

    moto silently replaces the existing service (its ARN, task definition and load balancers
    change under whoever owns it): two environments that derive the same service name in one
    cluster would take over each other's service instead of failing. A deleted (INACTIVE)
    service's name may be used again, as on AWS once it has drained. AWS also accepts an exact
    retry carrying the same clientToken; that is not modelled (nothing here retries a create).
    """
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    @wrap(EC2ContainerServiceBackend, "create_service")
    def create_service(original, self, *args, **kwargs):
        call = bind(original, self, args, kwargs)
        cluster = self._get_cluster(call["cluster_str"])
        existing = self.services.get("%s:%s" % (cluster.name, call["service_name"]))
        if existing is not None and existing.status == "ACTIVE":
            raise InvalidParameterException("Creation of service was not idempotent.")
        return original(self, *args, **kwargs)


# Addresses handed to tasks in services without an awsvpc subnet the emulator knows: loopback
# (not 127.77.0.0/16, where the data plane runs its real tasks),
# so nothing a test might send to a target ever leaves the machine.
FALLBACK_TASK_NETWORK = "127.78.0.0/16"
# ((account, region, cluster, service), task index) -> (network, address); addresses taken,
# per network.
TASK_ADDRESSES = {}
TAKEN_ADDRESSES = {}


def task_network(service):
    """The CIDR tasks of `service` take their addresses from: its first awsvpc subnet's, when
    the emulator's EC2 knows it, else FALLBACK_TASK_NETWORK."""
    from moto.ec2.models import ec2_backends

    config = (service.network_configuration or {}).get("awsvpcConfiguration") or {}
    subnets = config.get("subnets") or []
    if subnets:
        try:
            ec2 = ec2_backends[service._account_id][service.region_name]
            return ec2.get_subnet(subnets[0]).cidr_block
        except Exception:  # an unknown subnet: AWS would have refused it; moto does not check
            pass
    return FALLBACK_TASK_NETWORK


def service_key(service):
    return (service._account_id, service.region_name, service.cluster_name, service.name)


def task_address(service, index):
    import ipaddress

    key = (service_key(service), index)
    if key not in TASK_ADDRESSES:
        network = ipaddress.ip_network(task_network(service))
        taken = TAKEN_ADDRESSES.setdefault(str(network), set())
        # AWS reserves the first four addresses of a subnet and the last one.
        hosts = (str(a) for n, a in enumerate(network) if 4 <= n < network.num_addresses - 1)
        address = next((a for a in hosts if a not in taken), None)
        if address is None:
            raise RuntimeError("strict_moto: no free task address in %s" % network)
        taken.add(address)
        TASK_ADDRESSES[key] = (str(network), address)
    return TASK_ADDRESSES[key][1]


def sync_service_targets(service):
    """Register one `ip` target per running task of `service` in each of its target groups and
    deregister the ones this patch registered for tasks that no longer run (or from target
    groups the service no longer names)."""
    from moto.elbv2.models import elbv2_backends

    if data_plane_runs_tasks():
        return
    running = service.running_count if service.status == "ACTIVE" else 0
    elbv2 = elbv2_backends[service._account_id][service.region_name]
    wanted = {}  # target group ARN -> targets
    for entry in service.load_balancers or []:
        group = elbv2.target_groups.get(entry.get("targetGroupArn"))
        if group is not None:
            port = entry.get("containerPort") or group.port
            targets = [{"Id": task_address(service, n), "Port": port} for n in range(running)]
            wanted[group.arn] = targets
    key = service_key(service)
    owned = sorted(n for (k, n) in TASK_ADDRESSES if k == key)
    for index in owned:
        network, address = TASK_ADDRESSES[(key, index)]
        for group in elbv2.target_groups.values():
            keep = index < running and group.arn in wanted
            if address in group.targets and not keep:
                group.deregister([{"Id": address}])
        if index >= running:
            del TASK_ADDRESSES[(key, index)]
            TAKEN_ADDRESSES[network].discard(address)
    for arn, targets in wanted.items():
        if targets:
            elbv2.target_groups[arn].register(targets)


def data_plane_runs_tasks():
    """True while the local data plane runs (its target health file exists, see
    elbv2-target-health-from-file): it runs the tasks and registers them itself, so stand-in
    targets would only be healthy to bluegreen for the moment before it removes them."""
    import os

    path = os.environ.get(TARGET_HEALTH_FILE_ENV)
    return bool(path) and os.path.exists(path)


@patch("ecs-registers-service-targets")
def ecs_registers_service_targets():
    """ECS registers each running task of a service with load balancers in the service's
    target groups (an `ip` target: the task's private address, port containerPort) and
    deregisters the tasks it stops, as AWS does. moto runs no tasks and registers nothing, so
    the target group of a service built from the real modules stays empty and every target
    health check waits for targets that never come.

    moto sets runningCount to desiredCount on UpdateService; this patch then registers one
    target per running task, at the next free address of the service's first subnet (AWS
    skips a subnet's first four and last addresses; a subnet the emulator does not know gives
    127.78.0.0/16), and deregisters the targets of tasks beyond the count. DeleteService
    deregisters them all. Targets it did not register (anyone's RegisterTargets) are left
    alone. Target health is moto's: a registered target is healthy. Leave it out (`--without
    ecs-registers-service-targets`) when something else runs the tasks and registers them; it
    registers nothing while the local data plane runs (the file BLUEGREEN_TARGET_HEALTH_FILE
    names exists), because the data plane does.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    for method in ("create_service", "update_service", "delete_service"):

        def after(original, self, *args, **kwargs):
            service = original(self, *args, **kwargs)
            sync_service_targets(service)
            return service

        wrap(EC2ContainerServiceBackend, method)(after)


# ----------------------------------------------------------------------------------------- ELBv2


def load_balancer_settings(scheme, loadbalancer_type, ip_address_type, subnet_ids, groups):
    return (
        scheme or "internet-facing",
        loadbalancer_type or "application",
        ip_address_type or "ipv4",
        frozenset(subnet_ids),
        frozenset(groups or []),
    )


@patch("elbv2-duplicate-load-balancer-name")
def elbv2_duplicate_load_balancer_name():
    """ELBv2 CreateLoadBalancer with the name of an existing load balancer (same account and
    region) returns that load balancer when the settings are the same, and otherwise fails, as
    AWS does:

        DuplicateLoadBalancerName: A load balancer with the same name '<name>' exists, but
        with different settings

    AWS documents CreateLoadBalancer as idempotent: "If you attempt to create multiple load
    balancers with the same settings, each call succeeds" (and returns the one load balancer).
    The settings compared are the scheme, type, IP address type, subnets and security groups;
    tags are not. moto creates a second load balancer with the same name, so two environments
    whose modules derive the same name share nothing on AWS's terms but each get their own ALB
    in the emulator (or, with modules that look the name up, silently share one).
    """
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    @wrap(ELBv2Backend, "create_load_balancer")
    def create_load_balancer(original, self, *args, **kwargs):
        call = bind(original, self, args, kwargs)
        name = call["name"]
        existing = [lb for lb in self.load_balancers.values() if lb.name == name]
        if not existing:
            return original(self, *args, **kwargs)
        subnet_ids = list(call["subnet_ids"] or [])
        subnet_ids += [m["SubnetId"] for m in call["subnet_mappings"] or []]
        wanted = load_balancer_settings(
            call["scheme"],
            call["loadbalancer_type"],
            call["ip_address_type"],
            subnet_ids,
            call["security_groups"],
        )
        lb = existing[0]
        have = load_balancer_settings(
            lb.scheme,
            lb.type,
            lb.ip_address_type,
            [subnet.id for subnet in lb.subnets],
            lb.security_groups,
        )
        if have != wanted:
            raise ELBClientError(
                "DuplicateLoadBalancerName",
                "A load balancer with the same name '%s' exists, but with different settings"
                % name,
            )
        return lb


@patch("elbv2-deletion-protection")
def elbv2_deletion_protection():
    """ELBv2 DeleteLoadBalancer refuses a load balancer whose `deletion_protection.enabled`
    attribute is "true", as AWS does:

        OperationNotPermitted: Load balancer '<arn>' cannot be deleted because deletion
        protection is enabled

    moto stores the attribute (ModifyLoadBalancerAttributes, DescribeLoadBalancerAttributes)
    but deletes the load balancer anyway, so a `terraform destroy` of modules/shared with its
    default `deletion_protection = true` passes in the emulator and fails on AWS. Deleting a
    load balancer that does not exist still succeeds, as on AWS.
    """
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    @wrap(ELBv2Backend, "delete_load_balancer")
    def delete_load_balancer(original, self, arn):
        lb = self.load_balancers.get(arn)
        if lb is not None and str(lb.attrs.get("deletion_protection.enabled")).lower() == "true":
            raise ELBClientError(
                "OperationNotPermitted",
                "Load balancer '%s' cannot be deleted because deletion protection is enabled"
                % arn,
            )
        return original(self, arn)


# Where the local data plane writes the target health its checks observe (docs/dataplane.md).
TARGET_HEALTH_FILE_ENV = "BLUEGREEN_TARGET_HEALTH_FILE"
# {path: ((mtime_ns, size), parsed)} of the data plane's files: read again when one changes.
_observed_files = {}


def observed_file(path, parse):
    """`parse(json)` of the file at `path`, cached until the file's mtime or size changes (the
    data plane replaces whole files by rename). No file, or one that does not read, parse or
    fit `parse` (which may raise KeyError, AttributeError or TypeError): {} (moto answers)."""
    import json
    import os

    try:
        stat = os.stat(path)
    except OSError:
        return {}
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _observed_files.get(path)
    if cached is None or cached[0] != version:
        try:
            with open(path, encoding="utf-8") as f:
                parsed = parse(json.load(f))
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            return {}  # the writer renames whole files; a bad one is not ours to guess at
        cached = (version, parsed)
        _observed_files[path] = cached
    return cached[1]


def observed_target_health():
    """{(target group ARN, Id, str(Port)): entry} from the file BLUEGREEN_TARGET_HEALTH_FILE
    names: `{"targets": [{"target_group_arn", "id", "port", "state", "reason",
    "description"}]}`. No variable, no file or a file that does not parse: {} (moto answers)."""
    import os

    path = os.environ.get(TARGET_HEALTH_FILE_ENV)
    if not path:
        return {}
    return observed_file(
        path,
        lambda doc: {
            (t["target_group_arn"], t["id"], str(t["port"])): t
            for t in doc.get("targets") or []
            if isinstance(t, dict) and t.get("state") in TARGET_STATES
        },
    )


TARGET_STATES = ("initial", "healthy", "unhealthy", "draining", "unused", "unavailable")


@patch("elbv2-target-health-from-file")
def elbv2_target_health_from_file():
    """ELBv2 DescribeTargetHealth answers the health that real health checks observe, as AWS
    does: a target is `initial` (Elb.RegistrationInProgress) until it passes the target
    group's HealthyThresholdCount checks, `unhealthy` (Target.ResponseCodeMismatch,
    Target.Timeout, Target.FailedHealthChecks) after UnhealthyThresholdCount failures, and
    `draining` (Target.DeregistrationInProgress) while its requests finish after
    deregistration.

    moto answers every registered ip target `healthy` and forgets a deregistered one at once:
    a task failing its health check is healthy to bluegreen. The local data plane
    (bg-dataplane, docs/dataplane.md) health-checks the tasks it runs and writes what it
    observes to the file BLUEGREEN_TARGET_HEALTH_FILE names (whole files, by rename). This
    patch answers from that file for the targets listed there (matched by target group, Id and
    Port), adds its draining targets to an answer for the whole group, and leaves every other
    target to moto. No variable or no file: moto's answers, unchanged.
    """
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    @wrap(ELBv2Backend, "describe_target_health")
    def describe_target_health(original, self, target_group_arn, targets):
        result = original(self, target_group_arn, targets)
        observed = observed_target_health()
        if not observed:
            return result
        answered = set()
        for status in result:
            key = (target_group_arn, status.instance_id, str(status.port))
            entry = observed.get(key)
            if entry is not None:
                status.status = entry["state"]
                status.reason = entry.get("reason")
                status.description = entry.get("description")
                answered.add(key)
        if not targets:
            group = self.target_groups[target_group_arn]
            for key, entry in sorted(observed.items()):
                if key[0] == target_group_arn and key not in answered:
                    if entry["state"] == "draining":
                        result.append(
                            FakeHealthStatus(
                                entry["id"],
                                entry["port"],
                                group.health_check_port,
                                "draining",
                                entry.get("reason"),
                                entry.get("description"),
                            )
                        )
        return result


# The sibling of the target health file where the local data plane writes, per ECS service it
# runs, how many of its tasks run and how many are pending (docs/dataplane.md).
SERVICE_TASKS_FILE_NAME = "service-tasks.json"
def observed_service_tasks():
    """{(cluster ARN, service name): entry} from `service-tasks.json` next to the file
    BLUEGREEN_TARGET_HEALTH_FILE names: `{"services": [{"cluster_arn", "service_name",
    "running", "pending", "primary_running", "primary_pending"}]}` (counts: non-negative
    integers). No variable, no file or a file that does not parse: {} (moto answers)."""
    import os

    health = os.environ.get(TARGET_HEALTH_FILE_ENV)
    if not health:
        return {}
    counts = ("running", "pending", "primary_running", "primary_pending")
    return observed_file(
        os.path.join(os.path.dirname(health), SERVICE_TASKS_FILE_NAME),
        lambda doc: {
            (s["cluster_arn"], s["service_name"]): s
            for s in doc.get("services") or []
            if isinstance(s, dict)
            and all(isinstance(s.get(c), int) and s[c] >= 0 for c in counts)
        },
    )


@patch("ecs-service-counts-from-file")
def ecs_service_counts_from_file():
    """ECS DescribeServices answers runningCount and pendingCount with the tasks that run, as
    AWS does: runningCount is the number of the service's tasks in the RUNNING state (started:
    for a service behind a load balancer, registered as a target, before its health checks
    pass), pendingCount the number still starting (PENDING/ACTIVATING); the PRIMARY
    deployment's counts are those of its own task definition's tasks.

    moto runs no tasks: it sets runningCount to desiredCount on UpdateService (pendingCount 0),
    so a service looks fully running the moment it is scaled and bluegreen's `ecs` signal never
    waits. The local data plane (bg-dataplane, docs/dataplane.md) runs the tasks and writes
    their counts per service to `service-tasks.json` next to the file
    BLUEGREEN_TARGET_HEALTH_FILE names (whole files, by rename). This patch answers the
    services listed there (matched by cluster ARN and service name) from it, on a copy (moto's
    stored service is not changed), and leaves every other service to moto. No variable or no
    file: moto's answers, unchanged.
    """
    import copy

    from moto.ecs.models import EC2ContainerServiceBackend

    @wrap(EC2ContainerServiceBackend, "describe_services")
    def describe_services(original, self, *args, **kwargs):
        services, failures = original(self, *args, **kwargs)
        observed = observed_service_tasks()
        if not observed:
            return services, failures
        answered = []
        for service in services:
            entry = observed.get((service.cluster_arn, service.name))
            if entry is None or service.status != "ACTIVE":
                answered.append(service)
                continue
            shown = copy.copy(service)
            shown.running_count = entry["running"]
            shown.pending_count = entry["pending"]
            shown.deployments = [
                dict(d, runningCount=entry["primary_running"], pendingCount=entry["primary_pending"])
                if d.get("status") == "PRIMARY"
                else d
                for d in service.deployments or []
            ]
            answered.append(shown)
        return answered, failures


# ------------------------------------------------------------------------------------ CloudWatch

# Set while moto's GetMetricStatistics filters datums (per thread: moto serves requests on
# threads, and ListMetrics must keep its subset matching).
_exact_dimensions = __import__("threading").local()


@patch("cloudwatch-statistics-exact-dimensions")
def cloudwatch_statistics_exact_dimensions():
    """CloudWatch GetMetricStatistics returns the statistics of the metric with exactly the
    dimensions asked for, as AWS does: "CloudWatch treats each unique combination of dimensions
    as a separate metric. If a specific combination of dimensions was not published, you can't
    retrieve statistics for it." No error is involved: other combinations are not counted.

    moto counts every datum whose dimensions include the ones asked for, so a query for ALB's
    `LoadBalancer` alone also sums the per-target-group datums (`TargetGroup` + `LoadBalancer`)
    the local data plane publishes: a load balancer's RequestCount comes out doubled, and an
    alarm on it fires early. ListMetrics keeps matching a subset, as on AWS; GetMetricData
    already matches exactly in moto. A query with no dimensions at all is left to moto (it
    never calls the filter this wraps).
    """
    from moto.cloudwatch.models import CloudWatchBackend, MetricDatumBase

    @wrap(CloudWatchBackend, "get_metric_statistics")
    def get_metric_statistics(original, self, *args, **kwargs):
        _exact_dimensions.on = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _exact_dimensions.on = False

    @wrap(MetricDatumBase, "filter")
    def filter_datum(original, self, namespace, name, dimensions, *args, **kwargs):
        if not original(self, namespace, name, dimensions, *args, **kwargs):
            return False
        if not getattr(_exact_dimensions, "on", False):
            return True
        asked = sorted((d["Name"], d.get("Value")) for d in dimensions or [])
        return asked == sorted((d.name, d.value) for d in self.dimensions)


# ------------------------------------------------------------------------------------------ main


def summary(function):
    """The docstring's first paragraph, and the AWS error it quotes when it ends with ':'."""
    paragraphs = inspect.getdoc(function).split("\n\n")
    text = paragraphs[0]
    if text.endswith(":") and len(paragraphs) > 1:
        text += " " + paragraphs[1].strip()
    return " ".join(text.split())


def apply(without=()):
    """Apply every patch not named in `without`; returns the names applied."""
    unknown = sorted(set(without) - set(PATCHES))
    if unknown:
        raise SystemExit(
            "strict_moto: unknown patch %s (known: %s)" % (", ".join(unknown), ", ".join(PATCHES))
        )
    applied = []
    for name, function in PATCHES.items():
        if name not in without:
            function()
            applied.append(name)
    return applied


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="strict_moto.py",
        description="moto_server with bluegreen's AWS-strictness patches; other flags go to moto_server",
        add_help=False,
    )
    parser.add_argument("--list", action="store_true", help="list the patches and exit")
    parser.add_argument("--without", action="append", default=[], metavar="NAME")
    parser.add_argument("--help-strict", action="help", help="show this help and exit")
    ours, rest = parser.parse_known_args(argv)
    if ours.list:
        for name, function in PATCHES.items():
            print("%s\n    %s" % (name, summary(function)))
        return 0
    applied = apply(ours.without)
    left_out = ", ".join(ours.without) if ours.without else "none"
    sys.stderr.write(
        "strict_moto: patches applied: %s; left out: %s\n" % (", ".join(applied), left_out)
    )
    sys.stderr.flush()
    from moto.server import main as moto_server_main

    # moto_server reads sys.argv when given no arguments: leave only its own there.
    sys.argv = [sys.argv[0]] + rest
    moto_server_main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
