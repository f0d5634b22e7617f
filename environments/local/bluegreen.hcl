# The local environment: the modules a team applies on AWS (modules/shared, modules/service,
# through the wrapper roots ./shared and ./service) with the real hashicorp/aws provider,
# against the moto server on 127.0.0.1 (the AWS SDK and the provider reach it through
# AWS_ENDPOINT_URL). The provider comes from the CLI config scripts/terraform-config.sh writes
# (docs/terraform-providers.md). environments/local-fast is the same environment on the
# emulator stand-in modules: seconds instead of a minute for the first shared apply.
region = "us-east-1"

# auto: tofu if it is on PATH, else terraform.
iac { binary = "auto" }

# The network, the ALB, listeners, the blue/green target groups and the ECS cluster; applied
# rarely. Creating the ALB takes about a minute (the provider waits for it).
shared {
  root      = "shared" # relative to this file's directory
  var_files = ["shared.tfvars"]
}

# One color; applied per color with -var color/image/target_group_arn/cluster_name.
service {
  root      = "service"
  var_files = ["service.tfvars"]
  # Tasks per color at full size. The emulator runs no containers: its launcher registers one
  # target per running task, as ECS does (docs/emulator.md).
  desired_count = 2
}

# Each stack in its own workspace: local-blue, local-green, local-shared.
state { separation = "workspace" }

# The emulator answers at once: short timeouts, fast polling.
health {
  timeout       = "2m"
  poll_interval = "1s"

  # Each color's 5xx alarm (./service creates it with the color's stack). In ALARM during a bake:
  # roll back. "wait": on AWS a new alarm is INSUFFICIENT_DATA until its first evaluation; wait
  # for it (at most `timeout`) instead of failing the deploy that just created it. `bg-local`
  # is this environment's name (only `{color}` is a placeholder): a copy renames them.
  alarms {
    names   = ["bg-local-{color}-5xx"]
    no_data = "wait"
  }
}

# How long to wait for a listener change to read back as written.
traffic { verify_timeout = "20s" }

# Canary: 20% of production traffic on the new color for 3s (every signal watched), then all.
# `deploy --strategy linear:25:2s` (or `all-at-once`, `steps:10@2s,pause,100`) overrides it.
strategy {
  type    = "canary"
  percent = 20
  bake    = "3s"
}

# At 100%: watch every signal 2s more, then keep the old color at full size for 3s (a
# rollback in that window is one listener change) and scale it to zero.
promotion {
  bake             = "2s"
  termination_wait = "3s"
  old_color        = "scale-down"
}
