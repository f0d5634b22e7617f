"""Tests of strict_moto.py: boto3 against the patched server, started once on a loopback port
this module picks; moto's state is reset before every test.

    <venv>/bin/python -m unittest discover -s scripts/emulator -p 'test_*.py'

scripts/test.sh runs it as the check "strict emulator patches". Each patch has a test class
named after it; each class shows the AWS behaviour and, where moto alone differs, that the
patch is what makes the difference (the server started with `--without` the patch).
"""

import contextlib
import datetime
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import unittest.mock
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import strict_moto  # noqa: E402  (the launcher's patch registry)

LAUNCHER = os.path.join(HERE, "strict_moto.py")
REGION = "us-east-1"
START_TIMEOUT = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port):
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/moto-api/" % port, timeout=2)
    except urllib.error.HTTPError:
        pass
    except OSError:
        return False
    return True


class Server:
    """One launcher process on a loopback port it picks. `start()` spawns it, `ready()` waits
    until it answers (so two servers can start side by side), `stop()` ends it."""

    def __init__(self, *flags):
        self.flags = flags
        # A file, not a pipe: moto logs every request, and a full pipe would block it.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.attempts = 0
        self.start()

    def start(self):
        self.attempts += 1
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, LAUNCHER, *self.flags, "-H", "127.0.0.1", "-p", str(self.port)],
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                # The picked port was taken before the server bound it: try another.
                if self.attempts < 3:
                    self.start()
                    continue
                break
            if answers(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("strict_moto.py did not start:\n%s" % self.output())

    def warm(self):
        try:
            self.ready()
            self.client("ec2").describe_vpcs()
            self.client("elbv2").describe_load_balancers()
            self.client("ecs").list_clusters()
        except Exception as exc:  # re-raised by setUpModule, in the main thread
            self.failure = exc

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def client(self, service):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )


# The patched server every test uses, and one with every patch left out (WithoutThePatches).
STRICT = LENIENT = None


# The target health file both servers read (elbv2-target-health-from-file): set before they
# start, written by the tests.
HEALTH_DIR = tempfile.TemporaryDirectory()
HEALTH_FILE = os.path.join(HEALTH_DIR.name, "target-health.json")


def setUpModule():
    global STRICT, LENIENT
    os.environ[strict_moto.TARGET_HEALTH_FILE_ENV] = HEALTH_FILE
    without = [flag for name in strict_moto.PATCHES for flag in ("--without", name)]
    STRICT, LENIENT = Server(), Server(*without)
    # moto imports a service's backend on its first request, seconds each for EC2: warm both
    # servers side by side instead of inside the first tests.
    warmers = [threading.Thread(target=server.warm) for server in (STRICT, LENIENT)]
    for thread in warmers:
        thread.start()
    for thread in warmers:
        thread.join()
    for server in (STRICT, LENIENT):
        if getattr(server, "failure", None):
            raise server.failure


def tearDownModule():
    for server in (STRICT, LENIENT):
        if server is not None:
            server.stop()
            server.log.close()


class World:
    """A load balancer, two target groups and an ECS cluster with a task definition, all named
    after `name`: what the shared module makes, minus the listeners. The VPC and its two
    subnets are made once per server."""

    def __init__(self, server, name):
        self.ec2 = server.client("ec2")
        self.elb = server.client("elbv2")
        self.ecs = server.client("ecs")
        if not hasattr(server, "network"):
            vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            server.network = vpc, [
                self.ec2.create_subnet(
                    VpcId=vpc, CidrBlock="10.0.%d.0/24" % i, AvailabilityZone=zone
                )["Subnet"]["SubnetId"]
                for i, zone in enumerate(["us-east-1a", "us-east-1b"])
            ]
        self.vpc, self.subnets = server.network
        self.name = name
        self.lb = self.create_lb(name + "-alb")["LoadBalancerArn"]
        self.tgs = {
            color: self.elb.create_target_group(
                Name="%s-%s" % (name, color),
                Protocol="HTTP",
                Port=80,
                VpcId=self.vpc,
                TargetType="ip",
            )["TargetGroups"][0]["TargetGroupArn"]
            for color in ("blue", "green")
        }
        self.cluster = name
        self.ecs.create_cluster(clusterName=name)
        self.td = self.ecs.register_task_definition(
            family=name,
            containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}],
        )["taskDefinition"]["taskDefinitionArn"]

    def create_lb(self, name, **settings):
        settings.setdefault("Subnets", self.subnets)
        return self.elb.create_load_balancer(Name=name, **settings)["LoadBalancers"][0]

    def load_balancers_named(self, name):
        every = self.elb.describe_load_balancers()["LoadBalancers"]
        return [lb["LoadBalancerArn"] for lb in every if lb["LoadBalancerName"] == name]

    def forward(self, weights):
        return [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": self.tgs[c], "Weight": w} for c, w in weights.items()
                    ]
                },
            }
        ]

    def listener(self, port, actions):
        return self.elb.create_listener(
            LoadBalancerArn=self.lb, Protocol="HTTP", Port=port, DefaultActions=actions
        )["Listeners"][0]["ListenerArn"]

    def create_service(self, name, color=None, **extra):
        if color:
            extra["loadBalancers"] = [
                {"targetGroupArn": self.tgs[color], "containerName": "app", "containerPort": 80}
            ]
        return self.ecs.create_service(
            cluster=self.cluster, serviceName=name, taskDefinition=self.td, desiredCount=0, **extra
        )["service"]


NOT_DEPLOYED = [
    {
        "Type": "fixed-response",
        "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain"},
    }
]


class StrictTest(unittest.TestCase):
    """Each test gets a world of its own names ("t1", "t2", ...) in one long-running server:
    resetting moto between tests costs seconds, new names cost nothing."""

    server = None  # the module's strict server unless a class sets its own
    count = 0

    def setUp(self):
        self.srv = self.server or STRICT
        StrictTest.count += 1
        self.world = World(self.srv, "t%d" % StrictTest.count)
        self.n = self.world.name

    def assertRefused(self, call, code, message):
        with self.assertRaises(ClientError) as caught:
            call()
        error = caught.exception.response["Error"]
        self.assertEqual((error["Code"], error["Message"]), (code, message))


class EcsCreateServiceKeepsSettings(StrictTest):
    SETTINGS = {
        "healthCheckGracePeriodSeconds": 30,
        "enableECSManagedTags": True,
        "availabilityZoneRebalancing": "ENABLED",
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": False, "rollback": False},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
    }

    def test_create_service_returns_and_keeps_the_settings(self):
        created = self.world.create_service("app", **self.SETTINGS)
        described = self.world.ecs.describe_services(cluster=self.n, services=["app"])["services"][0]
        for key, value in self.SETTINGS.items():
            self.assertEqual(created.get(key), value, key)
            self.assertEqual(described.get(key), value, key)

    def test_a_service_created_without_them_has_none(self):
        self.world.create_service("app")
        described = self.world.ecs.describe_services(cluster=self.n, services=["app"])["services"][0]
        for key in self.SETTINGS:
            self.assertNotIn(key, described)


class EcsServiceTargetGroupNeedsLoadBalancer(StrictTest):
    def message(self, color):
        return (
            "The target group with targetGroupArn %s does not have an associated load balancer."
            % self.world.tgs[color]
        )

    def test_create_service_refuses_a_target_group_no_listener_forwards_to(self):
        self.world.listener(80, NOT_DEPLOYED)  # the old first-deploy order: a 503 only
        self.assertRefused(
            lambda: self.world.create_service("app-blue", "blue"),
            "InvalidParameterException",
            self.message("blue"),
        )
        self.assertEqual(self.world.ecs.list_services(cluster=self.n)["serviceArns"], [])

    def test_a_forward_with_weight_zero_associates_both_target_groups(self):
        self.world.listener(8080, self.world.forward({"blue": 1, "green": 0}))
        self.world.create_service("app-blue", "blue")
        self.world.create_service("app-green", "green")

    def test_a_rule_associates_its_target_group(self):
        listener = self.world.listener(80, NOT_DEPLOYED)
        self.world.elb.create_rule(
            ListenerArn=listener,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
            Actions=self.world.forward({"green": 1}),
        )
        self.world.create_service("app-green", "green")
        self.assertRefused(
            lambda: self.world.create_service("app-blue", "blue"),
            "InvalidParameterException",
            self.message("blue"),
        )

    def test_modify_listener_counts_and_undoes_the_association(self):
        listener = self.world.listener(80, NOT_DEPLOYED)
        self.world.elb.modify_listener(
            ListenerArn=listener, DefaultActions=self.world.forward({"blue": 100})
        )
        self.world.create_service("app-blue", "blue")
        self.world.elb.modify_listener(ListenerArn=listener, DefaultActions=NOT_DEPLOYED)
        self.assertRefused(
            lambda: self.world.create_service("app-blue2", "blue"),
            "InvalidParameterException",
            self.message("blue"),
        )

    def test_update_service_refuses_an_unassociated_target_group(self):
        self.world.listener(80, self.world.forward({"blue": 100}))
        self.world.create_service("app", "blue")
        green = [{"targetGroupArn": self.world.tgs["green"], "containerName": "app",
                  "containerPort": 80}]
        self.assertRefused(
            lambda: self.world.ecs.update_service(cluster=self.n, service="app", loadBalancers=green),
            "InvalidParameterException",
            self.message("green"),
        )
        # Other updates of a service whose target group lost its listener still work.
        self.world.ecs.update_service(cluster=self.n, service="app", desiredCount=1)

    def test_a_missing_cluster_is_reported_first(self):
        with self.assertRaises(ClientError) as caught:
            self.world.ecs.create_service(
                cluster="nope", serviceName="x", taskDefinition=self.world.td, desiredCount=0,
                loadBalancers=[{"targetGroupArn": self.world.tgs["blue"],
                                "containerName": "app", "containerPort": 80}],
            )
        self.assertEqual(caught.exception.response["Error"]["Code"], "ClusterNotFoundException")


class EcsCreateServiceRefusesDuplicateName(StrictTest):
    def test_an_active_name_is_refused_and_the_service_kept(self):
        first = self.world.create_service("app", healthCheckGracePeriodSeconds=7)
        self.assertRefused(
            lambda: self.world.create_service("app"),
            "InvalidParameterException",
            "Creation of service was not idempotent.",
        )
        described = self.world.ecs.describe_services(cluster=self.n, services=["app"])["services"][0]
        self.assertEqual(described["serviceArn"], first["serviceArn"])
        self.assertEqual(described["healthCheckGracePeriodSeconds"], 7)

    def test_a_deleted_name_can_be_used_again(self):
        self.world.create_service("app")
        self.world.ecs.delete_service(cluster=self.n, service="app", force=True)
        self.world.create_service("app")


class EcsRegistersServiceTargets(StrictTest):
    def setUp(self):
        super().setUp()
        self.world.listener(8080, self.world.forward({"blue": 1, "green": 0}))

    def targets(self, color):
        health = self.world.elb.describe_target_health(TargetGroupArn=self.world.tgs[color])
        return sorted(
            (d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"])
            for d in health["TargetHealthDescriptions"]
        )

    def scale(self, service, count):
        self.world.ecs.update_service(cluster=self.n, service=service, desiredCount=count)

    def test_running_tasks_are_registered_in_the_subnet_and_deregistered_on_scale_down(self):
        network = {
            "awsvpcConfiguration": {"subnets": self.world.subnets[1:], "securityGroups": []}
        }
        self.world.create_service("app-blue", "blue", networkConfiguration=network)
        self.assertEqual(self.targets("blue"), [])
        self.scale("app-blue", 3)
        blue = self.targets("blue")
        self.assertEqual(len(blue), 3)
        for address, port, state in blue:
            self.assertTrue(address.startswith("10.0.1."), address)  # the subnet's CIDR
            self.assertEqual((port, state), (80, "healthy"))
        self.assertEqual(len({a for a, _, _ in blue}), 3)
        self.scale("app-blue", 1)
        self.assertEqual(len(self.targets("blue")), 1)
        self.scale("app-blue", 0)
        self.assertEqual(self.targets("blue"), [])

    def test_other_targets_are_left_alone_and_delete_deregisters(self):
        tg = self.world.tgs["green"]
        self.world.listener(8081, self.world.forward({"blue": 0, "green": 1}))
        self.world.elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.2.1"}])
        self.world.create_service("app-green", "green")
        self.scale("app-green", 2)
        addresses = [a for a, _, _ in self.targets("green")]
        self.assertIn("127.0.2.1", addresses)
        self.assertEqual(len([a for a in addresses if a.startswith("127.78.")]), 2)
        self.scale("app-green", 0)
        self.world.ecs.delete_service(cluster=self.n, service="app-green")
        self.assertEqual([a for a, _, _ in self.targets("green")], ["127.0.2.1"])

    def test_nothing_is_registered_while_the_data_plane_runs(self):
        write_target_health([])  # bg-dataplane writes its file when it starts
        self.addCleanup(os.remove, HEALTH_FILE)
        self.world.create_service("app-blue", "blue")
        self.scale("app-blue", 2)
        self.assertEqual(self.targets("blue"), [])

    def test_two_services_never_share_an_address(self):
        self.world.listener(8082, self.world.forward({"blue": 0, "green": 1}))
        self.world.create_service("app-blue", "blue")
        self.world.create_service("app-green", "green")
        self.scale("app-blue", 2)
        self.scale("app-green", 2)
        blue = {a for a, _, _ in self.targets("blue")}
        green = {a for a, _, _ in self.targets("green")}
        self.assertEqual((len(blue), len(green)), (2, 2))
        self.assertFalse(blue & green)


def write_target_health(entries):
    """Writes the health file as bg-dataplane does: whole, by rename."""
    tmp = HEALTH_FILE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"targets": entries}, f)
    os.replace(tmp, HEALTH_FILE)


class ElbTargetHealthFromFile(StrictTest):
    def setUp(self):
        super().setUp()
        self.world.listener(8080, self.world.forward({"blue": 1, "green": 0}))
        self.tg = self.world.tgs["blue"]
        self.world.elb.register_targets(
            TargetGroupArn=self.tg,
            Targets=[{"Id": "127.77.0.%d" % i, "Port": 8000 + i} for i in (1, 2, 3)],
        )
        self.addCleanup(lambda: os.path.exists(HEALTH_FILE) and os.remove(HEALTH_FILE))

    def entry(self, i, state, reason=None, description=None, tg=None):
        return {
            "target_group_arn": tg or self.tg,
            "id": "127.77.0.%d" % i,
            "port": 8000 + i,
            "state": state,
            "reason": reason,
            "description": description,
        }

    def health(self, server=None, **kwargs):
        elb = (server or self.srv).client("elbv2")
        out = elb.describe_target_health(TargetGroupArn=self.tg, **kwargs)
        return {
            d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
            for d in out["TargetHealthDescriptions"]
        }

    def test_listed_targets_take_the_observed_state_and_others_stay_moto_s(self):
        write_target_health(
            [
                self.entry(1, "initial", "Elb.RegistrationInProgress", "Target registration is in progress"),
                self.entry(2, "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"),
            ]
        )
        self.assertEqual(
            self.health(),
            {
                "127.77.0.1": ("initial", "Elb.RegistrationInProgress"),
                "127.77.0.2": ("unhealthy", "Target.ResponseCodeMismatch"),
                "127.77.0.3": ("healthy", None),  # not listed: moto's answer
            },
        )
        # A rewrite is read at the next call.
        write_target_health([self.entry(1, "healthy"), self.entry(2, "unhealthy", "Target.Timeout")])
        self.assertEqual(self.health()["127.77.0.1"], ("healthy", None))
        self.assertEqual(self.health()["127.77.0.2"], ("unhealthy", "Target.Timeout"))

    def test_a_draining_target_is_listed_after_moto_forgot_it(self):
        self.world.elb.deregister_targets(
            TargetGroupArn=self.tg, Targets=[{"Id": "127.77.0.3", "Port": 8003}]
        )
        write_target_health(
            [self.entry(3, "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")]
        )
        self.assertEqual(self.health()["127.77.0.3"], ("draining", "Target.DeregistrationInProgress"))
        self.assertEqual(len(self.health()), 3)
        # Asked about other targets only, it is not added.
        only = self.health(Targets=[{"Id": "127.77.0.1", "Port": 8001}])
        self.assertEqual(only, {"127.77.0.1": ("healthy", None)})

    def test_entries_of_other_groups_ports_or_bad_files_change_nothing(self):
        green = self.world.tgs["green"]
        write_target_health(
            [self.entry(1, "unhealthy", tg=green), {**self.entry(2, "unhealthy"), "port": 9999}]
        )
        healthy = {"127.77.0.%d" % i: ("healthy", None) for i in (1, 2, 3)}
        self.assertEqual(self.health(), healthy)
        with open(HEALTH_FILE, "w", encoding="utf-8") as f:
            f.write("{not json")
        self.assertEqual(self.health(), healthy)
        os.remove(HEALTH_FILE)
        self.assertEqual(self.health(), healthy)

    def test_moto_alone_answers_healthy(self):
        w = World(LENIENT, self.n + "l")
        w.listener(8080, w.forward({"blue": 1, "green": 0}))
        w.elb.register_targets(TargetGroupArn=w.tgs["blue"], Targets=[{"Id": "127.77.0.1", "Port": 8001}])
        write_target_health([self.entry(1, "unhealthy", "Target.Timeout", tg=w.tgs["blue"])])
        out = w.elb.describe_target_health(TargetGroupArn=w.tgs["blue"])["TargetHealthDescriptions"]
        self.assertEqual([d["TargetHealth"]["State"] for d in out], ["healthy"])


SERVICE_TASKS_FILE = os.path.join(HEALTH_DIR.name, strict_moto.SERVICE_TASKS_FILE_NAME)


def write_service_tasks(entries):
    """Writes service-tasks.json as bg-dataplane does: whole, by rename."""
    tmp = SERVICE_TASKS_FILE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"services": entries}, f)
    os.replace(tmp, SERVICE_TASKS_FILE)


class EcsServiceCountsFromFile(StrictTest):
    def setUp(self):
        super().setUp()
        self.cluster_arn = self.world.ecs.describe_clusters(clusters=[self.world.cluster])[
            "clusters"
        ][0]["clusterArn"]
        self.addCleanup(
            lambda: os.path.exists(SERVICE_TASKS_FILE) and os.remove(SERVICE_TASKS_FILE)
        )

    def entry(self, name, running, pending, primary_running=None, primary_pending=None):
        return {
            "cluster_arn": self.cluster_arn,
            "service_name": name,
            "running": running,
            "pending": pending,
            "primary_running": running if primary_running is None else primary_running,
            "primary_pending": pending if primary_pending is None else primary_pending,
        }

    def counts(self, *names, server=None):
        ecs = (server or self.srv).client("ecs")
        out = ecs.describe_services(cluster=self.world.cluster, services=list(names))
        return {
            s["serviceName"]: (
                s["desiredCount"],
                s["runningCount"],
                s["pendingCount"],
                [
                    (d["status"], d["runningCount"], d["pendingCount"])
                    for d in s.get("deployments", [])
                ],
            )
            for s in out["services"]
        }

    def scale(self, name, count, world=None):
        world = world or self.world
        world.ecs.update_service(cluster=world.cluster, service=name, desiredCount=count)

    def test_listed_services_answer_the_file_and_others_stay_moto_s(self):
        for name in ("a", "b"):
            self.world.create_service(name)
            self.scale(name, 2)
        # moto alone: running = desired the moment the service is scaled.
        self.assertEqual(self.counts("a")["a"][:3], (2, 2, 0))
        write_service_tasks([self.entry("a", 0, 2)])
        got = self.counts("a", "b")
        self.assertEqual(got["a"], (2, 0, 2, [("PRIMARY", 0, 2)]))
        self.assertEqual(got["b"][:3], (2, 2, 0))  # not listed: moto's answer
        # A rewrite is read at the next call; the PRIMARY deployment has its own counts (the
        # old task definition's tasks still run during a replacement).
        write_service_tasks([self.entry("a", 3, 1, primary_running=1, primary_pending=1)])
        self.assertEqual(self.counts("a")["a"], (2, 3, 1, [("PRIMARY", 1, 1)]))
        # moto's stored service is unchanged: without the file, its own counts come back.
        os.remove(SERVICE_TASKS_FILE)
        self.assertEqual(self.counts("a")["a"][:3], (2, 2, 0))

    def test_entries_of_other_clusters_or_bad_files_change_nothing(self):
        self.world.create_service("a")
        self.scale("a", 2)
        moto = self.counts("a")
        write_service_tasks(
            [
                {**self.entry("a", 0, 2), "cluster_arn": self.cluster_arn + "-other"},
                {**self.entry("a", -1, 2)},
            ]
        )
        self.assertEqual(self.counts("a"), moto)
        with open(SERVICE_TASKS_FILE, "w", encoding="utf-8") as f:
            f.write("{not json")
        self.assertEqual(self.counts("a"), moto)

    def test_moto_alone_answers_desired(self):
        w = World(LENIENT, self.n + "l")
        w.create_service("a")
        self.scale("a", 2, world=w)
        arn = w.ecs.describe_clusters(clusters=[w.cluster])["clusters"][0]["clusterArn"]
        write_service_tasks([{**self.entry("a", 0, 2), "cluster_arn": arn}])
        out = w.ecs.describe_services(cluster=w.cluster, services=["a"])["services"][0]
        self.assertEqual((out["runningCount"], out["pendingCount"]), (2, 0))


class CloudWatchStatisticsExactDimensions(StrictTest):
    LB = {"Name": "LoadBalancer", "Value": "app/x/1"}
    TG = {"Name": "TargetGroup", "Value": "targetgroup/x-blue/2"}

    def put_and_sum(self, server, dimensions):
        cw = server.client("cloudwatch")
        now = datetime.datetime.now(datetime.timezone.utc)
        namespace = "Test/%s" % self.n
        for dims, value in (([self.LB], 10.0), ([self.TG, self.LB], 4.0)):
            cw.put_metric_data(
                Namespace=namespace,
                MetricData=[
                    {"MetricName": "RequestCount", "Dimensions": dims, "Value": value, "Timestamp": now}
                ],
            )
        out = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="RequestCount",
            Dimensions=dimensions,
            StartTime=now - datetime.timedelta(minutes=1),
            EndTime=now + datetime.timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )
        return sum(d["Sum"] for d in out["Datapoints"]), cw, namespace

    def test_only_the_exact_dimension_set_is_counted(self):
        total, cw, namespace = self.put_and_sum(self.srv, [self.LB])
        self.assertEqual(total, 10.0)
        total, _, _ = self.put_and_sum(self.srv, [self.LB, self.TG])  # order does not matter
        self.assertEqual(total, 8.0)  # two puts of 4.0 by now
        # ListMetrics still matches a subset, as on AWS.
        listed = cw.list_metrics(Namespace=namespace, Dimensions=[self.LB])["Metrics"]
        kinds = {tuple(sorted(d["Name"] for d in m["Dimensions"])) for m in listed}
        self.assertEqual(kinds, {("LoadBalancer",), ("LoadBalancer", "TargetGroup")})

    def test_moto_alone_sums_every_superset(self):
        total, _, _ = self.put_and_sum(LENIENT, [self.LB])
        self.assertEqual(total, 14.0)


class ElbDuplicateLoadBalancerName(StrictTest):
    def test_same_settings_return_the_existing_load_balancer(self):
        again = self.world.create_lb(self.n + "-alb")
        self.assertEqual(again["LoadBalancerArn"], self.world.lb)
        self.assertEqual(len(self.world.load_balancers_named(self.n + "-alb")), 1)

    def test_different_settings_are_refused(self):
        message = (
            "A load balancer with the same name '%s-alb' exists, but with different settings"
            % self.n
        )
        self.assertRefused(
            lambda: self.world.create_lb(self.n + "-alb", Scheme="internal"),
            "DuplicateLoadBalancerName",
            message,
        )
        self.assertRefused(
            lambda: self.world.create_lb(self.n + "-alb", Subnets=self.world.subnets[:1]),
            "DuplicateLoadBalancerName",
            message,
        )
        self.assertEqual(len(self.world.load_balancers_named(self.n + "-alb")), 1)

    def test_other_names_are_created(self):
        other = self.world.create_lb(self.n + "-other")
        self.assertNotEqual(other["LoadBalancerArn"], self.world.lb)


class ElbDeletionProtection(StrictTest):
    def protect(self, on):
        self.world.elb.modify_load_balancer_attributes(
            LoadBalancerArn=self.world.lb,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": str(on).lower()}],
        )

    def test_a_protected_load_balancer_is_not_deleted(self):
        self.protect(True)
        self.assertRefused(
            lambda: self.world.elb.delete_load_balancer(LoadBalancerArn=self.world.lb),
            "OperationNotPermitted",
            "Load balancer '%s' cannot be deleted because deletion protection is enabled"
            % self.world.lb,
        )
        self.assertEqual(len(self.world.load_balancers_named(self.n + "-alb")), 1)

    def test_turning_protection_off_allows_the_delete(self):
        self.protect(True)
        self.protect(False)
        self.world.elb.delete_load_balancer(LoadBalancerArn=self.world.lb)
        self.assertEqual(self.world.load_balancers_named(self.n + "-alb"), [])

    def test_unprotected_and_missing_load_balancers_are_deleted(self):
        self.world.elb.delete_load_balancer(LoadBalancerArn=self.world.lb)
        self.world.elb.delete_load_balancer(LoadBalancerArn=self.world.lb)


BG_EMULATOR = os.path.join(HERE, "..", "..", "modules", "emulator", "lib")


class FirstDeployOrderOfTheEmulatorModules(unittest.TestCase):
    """What the association patch means for modules/emulator: the script behind the emulator
    shared and service modules (bg_emulator.py), run in this process against the strict server
    in the order of a first deploy — shared stack, then one color's service."""

    def setUp(self):
        sys.path.insert(0, BG_EMULATOR)
        self.addCleanup(sys.path.remove, BG_EMULATOR)
        # Nothing may be written into modules/ (a test of the Rust suite checks it): no
        # __pycache__ next to the script.
        write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            import bg_emulator
        finally:
            sys.dont_write_bytecode = write_bytecode

        self.script = bg_emulator
        env = {
            "AWS_ENDPOINT_URL": STRICT.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
        }
        patcher = unittest.mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.scratch = scratch.name
        StrictTest.count += 1
        self.name = "fd%d" % StrictTest.count

    def run_script(self, subcommand, **args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = self.script.main(["bg_emulator.py", subcommand, json.dumps(args)])
        return code, err.getvalue()

    def shared(self, test_listener=True):
        record = os.path.join(self.scratch, "shared.tfstate")
        code, err = self.run_script(
            "shared-apply", name=self.name, listener_port=80, test_listener=test_listener,
            test_listener_port=8080, extra_listener_ports=[], path_rules=["/api/*"],
            health_check_path="/", record=record,
        )
        self.assertEqual(code, 0, err)
        return self.script.read_record(record)

    def service(self, shared, color):
        return self.run_script(
            "service-apply", name="app", color=color, image="nginx:1.27",
            target_group_arn=shared["target_group_arns"][color],
            cluster_name=shared["cluster_name"], container_port=80, cpu=256, memory=512,
            emulated_targets=1, record=os.path.join(self.scratch, color + ".tfstate"),
        )

    def action_of(self, listener_arn):
        elb = STRICT.client("elbv2")
        listener = elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        return listener["DefaultActions"][0]

    def test_the_old_order_fails_with_aws_error(self):
        # The test listener started as the production listener does, with the 503.
        with unittest.mock.patch.object(
            self.script, "associate_action", lambda tgs: self.script.NOT_DEPLOYED
        ):
            shared = self.shared()
        code, err = self.service(shared, "blue")
        self.assertEqual(code, 1)
        self.assertIn(
            "CreateService failed: InvalidParameterException: The target group with "
            "targetGroupArn %s does not have an associated load balancer."
            % shared["target_group_arns"]["blue"],
            err,
        )

    def test_the_test_listener_associates_both_colors_and_production_still_answers_503(self):
        shared = self.shared()
        for color in ("blue", "green"):
            code, err = self.service(shared, color)
            self.assertEqual(code, 0, err)
        self.assertEqual(self.action_of(shared["listener_arn"])["Type"], "fixed-response")
        weights = {
            t["TargetGroupArn"]: t["Weight"]
            for t in self.action_of(shared["test_listener_arn"])["ForwardConfig"]["TargetGroups"]
        }
        tgs = shared["target_group_arns"]
        self.assertEqual(weights, {tgs["blue"]: 100, tgs["green"]: 0})

    def test_without_a_test_listener_a_rule_that_never_matches_associates_them(self):
        shared = self.shared(test_listener=False)
        for color in ("blue", "green"):
            code, err = self.service(shared, color)
            self.assertEqual(code, 0, err)
        elb = STRICT.client("elbv2")
        rules = elb.describe_rules(ListenerArn=shared["listener_arn"])["Rules"]
        associate = [r for r in rules if r["Priority"] == "50000"]
        self.assertEqual(len(associate), 1, rules)
        self.assertEqual(associate[0]["Conditions"], self.script.NEVER_MATCHES)
        # Not a production route: bluegreen never sees it. The production listener and the
        # path rule still answer 503.
        self.assertNotIn(associate[0]["RuleArn"], shared["rule_arns"])
        self.assertEqual(len(shared["rule_arns"]), 1)
        self.assertEqual(self.action_of(shared["listener_arn"])["Type"], "fixed-response")
        # Turning the test listener on retires the rule; re-applying keeps the path rule.
        shared = self.shared(test_listener=True)
        rules = elb.describe_rules(ListenerArn=shared["listener_arn"])["Rules"]
        self.assertEqual(sorted(r["Priority"] for r in rules), ["1", "default"])


class WithoutThePatches(StrictTest):
    """moto alone is lenient: each refusal above comes from a patch, not from moto (the same
    launcher with `--without` every patch)."""

    @property
    def server(self):
        return LENIENT

    def test_moto_accepts_what_the_patches_refuse(self):
        w = self.world
        w.listener(80, NOT_DEPLOYED)
        w.create_service("app", "blue", healthCheckGracePeriodSeconds=30)
        described = w.ecs.describe_services(cluster=self.n, services=["app"])["services"][0]
        self.assertNotIn("healthCheckGracePeriodSeconds", described)
        w.ecs.update_service(cluster=self.n, service="app", desiredCount=2)
        health = w.elb.describe_target_health(TargetGroupArn=w.tgs["blue"])
        self.assertEqual(health["TargetHealthDescriptions"], [])  # no task, no target
        w.ecs.update_service(cluster=self.n, service="app", desiredCount=0)
        w.create_service("app")
        self.assertNotEqual(w.create_lb(self.n + "-alb", Scheme="internal")["LoadBalancerArn"], w.lb)
        w.elb.modify_load_balancer_attributes(
            LoadBalancerArn=w.lb,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
        )
        w.elb.delete_load_balancer(LoadBalancerArn=w.lb)


class Launcher(unittest.TestCase):
    def run_launcher(self, *args):
        return subprocess.run(
            [sys.executable, LAUNCHER, *args], capture_output=True, text=True, timeout=60
        )

    def test_list_names_every_patch_with_its_aws_text(self):
        out = self.run_launcher("--list")
        self.assertEqual(out.returncode, 0, out.stderr)
        for name in (
            "ecs-create-service-keeps-settings",
            "ecs-service-target-group-needs-load-balancer",
            "ecs-create-service-refuses-duplicate-name",
            "elbv2-duplicate-load-balancer-name",
            "elbv2-deletion-protection",
            "elbv2-target-health-from-file",
            "cloudwatch-statistics-exact-dimensions",
        ):
            self.assertIn(name + "\n", out.stdout)
        self.assertIn("does not have an associated load balancer.", out.stdout)

    def test_an_unknown_patch_name_is_refused(self):
        out = self.run_launcher("--without", "no-such-patch", "-p", "1")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("unknown patch no-such-patch", out.stderr)

    def test_the_server_says_which_patches_it_applied(self):
        applied = ", ".join(strict_moto.PATCHES)
        first = STRICT.output().splitlines()[0]
        self.assertEqual(first, "strict_moto: patches applied: %s; left out: none" % applied)
        first = LENIENT.output().splitlines()[0]
        self.assertEqual(first, "strict_moto: patches applied: ; left out: %s" % applied)


if __name__ == "__main__":
    unittest.main()
