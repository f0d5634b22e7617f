"""Interleaved rounds of bluegreen against the AWS CLI (scripts/bench-fast-paths.sh vs-aws-cli runs this).

Real: the bluegreen binary, AWS CLI v1, Terraform (already applied: nothing here launches it),
the strict moto launcher. Emulated: AWS (moto on 127.0.0.1).

Per round, in an order that alternates between rounds (so a slow patch of the shared machine
hits both sides):
  - `bluegreen rollback` against `cli-rollback.sh` (five AWS CLI calls, one process each);
  - `bluegreen status --output json` against one `aws elbv2 describe-listeners`.
Each side moves traffic onto the idle color; after the CLI's round its listener change is put
back, untimed, so that bluegreen's journal and the ALB keep agreeing.

Prints every round, the medians, and the median of the per-round ratios.
"""

import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(argv, **kw):
    """Runs argv; returns (seconds, stdout). Fails loudly on a non-zero exit."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {argv[0]} {argv[1:3]} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return dt, p.stdout


def main():
    bg, aws, env = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds = int(os.environ.get("BENCH_ROUNDS", "15"))
    prefix = f"bg-{env}"
    cluster = prefix

    def aws_json(*args):
        return json.loads(run([aws, *args, "--output", "json"])[1])

    tgs = {
        t["TargetGroupName"].rsplit("-", 1)[1]: t["TargetGroupArn"]
        for t in aws_json("elbv2", "describe-target-groups", "--names", f"{prefix}-blue", f"{prefix}-green")[
            "TargetGroups"
        ]
    }
    status = json.loads(run([bg, "status", "--env", env, "--output", "json"])[1])
    listener = status["listener_arn"]

    def listener_actions():
        return aws_json("elbv2", "describe-listeners", "--listener-arns", listener)["Listeners"][0][
            "DefaultActions"
        ]

    def live_color():
        fwd = listener_actions()[0]["ForwardConfig"]["TargetGroups"]
        hot = [t["TargetGroupArn"] for t in fwd if t.get("Weight", 0) == 100]
        return next(c for c, a in tgs.items() if [a] == hot)

    def forward_to(color):
        other = "blue" if color == "green" else "green"
        return json.dumps(
            [
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": tgs[color], "Weight": 100},
                            {"TargetGroupArn": tgs[other], "Weight": 0},
                        ]
                    },
                }
            ]
        )

    def cli_rollback():
        before = listener_actions()
        idle = "blue" if live_color() == "green" else "green"
        argv = [
            "bash",
            os.path.join(HERE, "cli-rollback.sh"),
            aws,
            cluster,
            f"{prefix}-{idle}",
            tgs[idle],
            listener,
            forward_to(idle),
        ]
        dt, _ = run(argv)
        # Untimed: put the listener back as it was.
        run([aws, "elbv2", "modify-listener", "--listener-arn", listener, "--default-actions", json.dumps(before)])
        return dt

    def bg_rollback():
        return run([bg, "rollback", "--env", env])[0]

    def bg_status():
        dt, out = run([bg, "status", "--env", env, "--output", "json"])
        json.loads(out)
        return dt

    def cli_describe():
        dt, out = run([aws, "elbv2", "describe-listeners", "--listener-arns", listener, "--output", "json"])
        json.loads(out)
        return dt

    pairs = {
        "rollback": (bg_rollback, cli_rollback, "bluegreen rollback", "AWS CLI script (5 calls)"),
        "status": (bg_status, cli_describe, "bluegreen status --output json", "aws elbv2 describe-listeners"),
    }
    results = {k: ([], []) for k in pairs}
    # One warm-up of each, not counted (page cache, the emulator's first answers).
    for name, (a, b, _, _) in pairs.items():
        a()
        b()
    print(f"{rounds} rounds, interleaved (order alternates per round)")
    for i in range(rounds):
        line = [f"round {i + 1:2d}"]
        for name, (a, b, _, _) in pairs.items():
            if i % 2 == 0:
                ta, tb = a(), b()
            else:
                tb, ta = b(), a()
            results[name][0].append(ta)
            results[name][1].append(tb)
            line.append(f"{name}: {ta * 1000:7.1f} ms vs {tb * 1000:7.1f} ms ({ta / tb:.3f}x)")
        print("  ".join(line), flush=True)
    print()
    for name, (_, _, la, lb) in pairs.items():
        xa, xb = results[name]
        ratios = [p / q for p, q in zip(xa, xb)]
        print(
            f"{name}: {la} median {statistics.median(xa) * 1000:.1f} ms "
            f"(min {min(xa) * 1000:.1f}, max {max(xa) * 1000:.1f}); "
            f"{lb} median {statistics.median(xb) * 1000:.1f} ms "
            f"(min {min(xb) * 1000:.1f}, max {max(xb) * 1000:.1f}); "
            f"median of per-round ratios {statistics.median(ratios):.3f}x "
            f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
