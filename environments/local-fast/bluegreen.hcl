# The local environment on the emulator stand-in modules (modules/emulator: Terraform built-ins
# and a boto3 script, no AWS provider): everything runs against the moto server on 127.0.0.1,
# and the first shared apply takes seconds, not a minute. The fast test tier uses these modules;
# environments/local is the same environment on the real modules and provider.
region = "us-east-1"

# auto: tofu if it is on PATH, else terraform.
iac { binary = "auto" }

# ALB, listeners, the blue/green target groups and the ECS cluster; applied rarely.
shared {
  root      = "../../modules/emulator/shared" # relative to this file's directory
  var_files = ["shared.tfvars"]
}

# One color; applied per color with -var color/image/target_group_arn/cluster_name.
service {
  root      = "../../modules/emulator/service"
  var_files = ["service.tfvars"]
  # Tasks per color at full size; service.tfvars registers as many emulated targets.
  desired_count = 2
}

# Each stack in its own workspace: local-blue, local-green, local-shared.
state { separation = "workspace" }

# The emulator answers at once: short timeouts, fast polling.
health {
  timeout       = "2m"
  poll_interval = "1s"
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
