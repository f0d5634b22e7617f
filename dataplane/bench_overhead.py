"""What the data plane's load balancer adds to a request, and the highest rate it sustains.

Run against `scripts/emulator.sh start` (with the data plane) after a deploy, with the
emulator's venv (boto3) and the environment of `scripts/emulator.sh env`:

    eval "$(scripts/emulator.sh env)"
    bluegreen deploy --env local --image public.ecr.aws/nginx/nginx:1.27
    python dataplane/bench_overhead.py [--bin target/release/bg-dataplane] [--rate 1000] [--seconds 10]

1. Overhead: `bg-dataplane load` at --rate straight to one task (its registered target), then
   through the production listener (ALB port 80); the added latency is the difference of the
   percentiles. Alternated --runs times; medians printed.
2. Highest sustained rate: through the listener at rising rates until a run fails a request,
   delivers < 99 % of the schedule, or falls > 100 ms behind it.
Prints one JSON line per run and a summary; numbers go into docs/dataplane.md by hand.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import boto3


def load(binary, url, rate, seconds):
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run(
            [binary, "load", "--url", url + "/", "--rate", str(rate), "--duration", "%ds" % seconds, "--out", out],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    return json.loads(run.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="target/release/bg-dataplane")
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-rates", default="1000,2000,3000,4000,6000,8000")
    a = p.parse_args()
    with open(os.environ["BLUEGREEN_DATAPLANE_MAP"]) as f:
        listener = next(l for l in json.load(f)["listeners"] if l["port"] == 80)
    elbv2 = boto3.client("elbv2")
    action = elbv2.describe_listeners(ListenerArns=[listener["listener_arn"]])["Listeners"][0]["DefaultActions"][0]
    groups = [t["TargetGroupArn"] for t in action["ForwardConfig"]["TargetGroups"] if t.get("Weight", 1) > 0]
    target = elbv2.describe_target_health(TargetGroupArn=groups[0])["TargetHealthDescriptions"][0]["Target"]
    direct = "http://%s:%d" % (target["Id"], target["Port"])
    added = {"p50": [], "p99": []}
    for _ in range(a.runs):
        d = load(a.bin, direct, a.rate, a.seconds)
        l = load(a.bin, listener["url"], a.rate, a.seconds)
        print(json.dumps({"rate": a.rate, "direct": d["latency_ms"], "listener": l["latency_ms"], "failed": l["failed"]}))
        for q in added:
            added[q].append(l["latency_ms"][q] - d["latency_ms"][q])
    print("added latency at %d req/s: p50 %.2f ms, p99 %.2f ms (medians of %d runs)"
          % (a.rate, statistics.median(added["p50"]), statistics.median(added["p99"]), a.runs))
    best = 0
    for rate in [int(r) for r in a.max_rates.split(",")]:
        s = load(a.bin, listener["url"], rate, a.seconds)
        ok = s["failed"] == 0 and s["requests"] >= 0.99 * rate * a.seconds and s["max_send_lag_ms"] <= 100
        print(json.dumps({"rate": rate, "ok": ok, "failed": s["failed"], "achieved": round(s["achieved_rate"]),
                          "lag_ms": round(s["max_send_lag_ms"]), "latency_ms": s["latency_ms"]}))
        if not ok:
            break
        best = rate
    print("highest sustained rate through the listener: %d req/s" % best)
    return 0


if __name__ == "__main__":
    sys.exit(main())
