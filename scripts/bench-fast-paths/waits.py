"""How timed waits end (scripts/bench-fast-paths.sh waits runs this; docs/performance.md).

Real: the bluegreen binary, Terraform, the strict moto launcher. Emulated: AWS (moto).

1. Configured waits: BENCH_DEPLOYS deploys of environments/local-fast as it is (canary 20 % with
   a 3 s bake, a 2 s post-promotion bake, a 3 s termination wait, a 1 s poll), images
   alternating. From each deployment's journal (`at_ms`): the bake's overshoot is
   bake-passed − weights-verified(step 0) − 3 s, the post-bake's termination-wait − post-bake −
   2 s, the termination wait's scale-down-intent − termination-wait − 3 s. The journal entry
   that starts a wait is written just before the driver starts it, so a few ms of journaling
   count as overshoot too.
2. Waiting on polls: BENCH_DEPLOYS all-at-once deploys with 0 s bakes at a 1 s poll (a copy of
   local-fast, `local-fast-zero`), run with BLUEGREEN_LOG=bluegreen::flow::drive=debug: the
   driver logs how long it slept before each poll ("waited for the next poll") and before a
   read-early deadline. Their sum against the process's wall time, and against the driver's
   part of it (from its first log line to the process's end).

BENCH_BEFORE_BIN: another binary measured in the same rounds (order alternating per round).
Part 2 measures only BLUEGREEN_BIN (an older binary does not log its waits).
"""

import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

IMAGES = ["public.ecr.aws/nginx/nginx:1.27", "public.ecr.aws/nginx/nginx:1.28"]


def deploy(bg, env, image, extra_env=None, envs_dir=None):
    argv = [bg]
    if envs_dir:
        argv += ["--environments-dir", envs_dir]
    argv += ["deploy", "--env", env, "--image", image]
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(extra_env or {})})
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench: deploy failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return wall, p.stderr


def newest_journal(work, env):
    d = os.path.join(work, env, "journal", "deployments")
    name = sorted(os.listdir(d))[-1]
    with open(os.path.join(d, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def entry_at(records, kind, step=None):
    for r in records:
        e = r["entry"]
        if e["type"] == kind and (step is None or e.get("step") == step):
            return r["at_ms"]
    raise KeyError(kind)


def summary(name, xs, unit="ms"):
    return (
        f"{name}: median {statistics.median(xs):.1f} {unit}, min {min(xs):.1f}, max {max(xs):.1f} "
        f"({len(xs)} deploys)"
    )


def configured_waits(bg, work, image):
    deploy(bg, "local-fast", image)
    j = newest_journal(work, "local-fast")
    return (
        entry_at(j, "bake-passed", 0) - entry_at(j, "weights-verified", 0) - 3000,
        entry_at(j, "termination-wait") - entry_at(j, "post-bake") - 2000,
        entry_at(j, "scale-down-intent") - entry_at(j, "termination-wait") - 3000,
    )


LOG = {"BLUEGREEN_LOG": "bluegreen::flow::drive=debug", "NO_COLOR": "1"}
WAITED = re.compile(r"waited_us=(\d+)")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")


def poll_waits(bg, image, envs_dir):
    started = time.time()
    wall, err = deploy(bg, "local-fast-zero", image, LOG, envs_dir)
    waited = sum(int(m.group(1)) for m in WAITED.finditer(err)) / 1e6
    first = None
    for line in err.splitlines():
        m = STAMP.match(line)
        if m and "bluegreen::flow::drive" in line:
            first = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc).timestamp()
            break
    driver = started + wall - first if first else float("nan")
    return wall, driver, waited


def main():
    bg, work, zero_envs = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(os.environ.get("BENCH_DEPLOYS", "10"))
    bins = [("now", bg)]
    if os.environ.get("BENCH_BEFORE_BIN"):
        bins.append(("before", os.environ["BENCH_BEFORE_BIN"]))
    print("binaries: " + ", ".join(f"{k} = {v}" for k, v in bins))

    def rounds(label, one, bins=bins):
        out = {k: [] for k, _ in bins}
        for i in range(n):
            order = bins if i % 2 == 0 else bins[::-1]
            for k, b in order:
                r = one(b, IMAGES[(i + (k == "before")) % 2])
                out[k].append(r)
                print(f"  {label} {i + 1:2d} {k:6s}: {r}", flush=True)
        return out

    print(f"1. local-fast: canary 20 % bake 3 s, post-bake 2 s, termination wait 3 s, poll 1 s; {n} deploys each")
    print("   (overshoot in ms: bake, post-bake, termination wait)")
    res = rounds("deploy", lambda b, img: configured_waits(b, work, img))
    for k, _ in bins:
        xs = res[k]
        print(f"  {k}:")
        print("    " + summary("bake overshoot", [x[0] for x in xs]))
        print("    " + summary("post-bake overshoot", [x[1] for x in xs]))
        print("    " + summary("termination wait overshoot", [x[2] for x in xs]))

    print(f"2. local-fast-zero: all-at-once, 0 s bakes, 0 s termination wait, poll 1 s; {n} deploys each")
    print("   (wall s, the driver's part s, waiting on polls s)")
    res = rounds("deploy", lambda b, img: tuple(round(x, 4) for x in poll_waits(b, img, zero_envs)), bins[:1])
    for k, _ in bins[:1]:
        xs = res[k]
        print(f"  {k}:")
        print("    " + summary("wall", [x[0] * 1000 for x in xs]))
        print("    " + summary("waiting on polls", [x[2] * 1000 for x in xs]))
        print("    " + summary("share of wall time", [100 * x[2] / x[0] for x in xs], "%"))
        print("    " + summary("share of the driver's part", [100 * x[2] / x[1] for x in xs], "%"))


if __name__ == "__main__":
    main()
