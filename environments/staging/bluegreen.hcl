# Example environment for real AWS: staging. Copy it and replace the placeholders here
# (state.backend_config) and in shared.tfvars and service.tfvars.
#
# Run bluegreen with AWS credentials for the account from any standard source (AWS_PROFILE,
# SSO, an instance role), and without AWS_ENDPOINT_URL.

# Region of the load balancer and the ECS services; keep `region` in the tfvars equal.
region = "eu-west-1"

# Which IaC binary: auto (tofu if on PATH, else terraform) | tofu | terraform | a path.
iac { binary = "auto" }

# ALB, production + test listeners, the blue/green target groups, the ECS cluster.
# Applied rarely; bluegreen owns the listeners' actions after the first deploy.
shared {
  root      = "shared" # relative to this file's directory: environments/staging/shared
  var_files = ["shared.tfvars"]
}

# One color: task definition + ECS service on the color's target group. bluegreen plans it
# per color with -var color=…, image=…, target_group_arn=…, cluster_name=… on top of these.
service {
  root      = "service"
  var_files = ["service.tfvars"]
  # Extra variables without a var file, e.g.:
  # vars = { log_group_name = "/ecs/app-staging" }

  # Tasks the live color runs; bluegreen scales the idle color to this before shifting.
  desired_count = 3
}

# The roots declare a partial `backend "s3" {}`; bluegreen passes backend_config to `init`
# as -backend-config. One workspace per stack (staging-shared, staging-blue, staging-green),
# all under the one key: S3 keeps workspace states at env:/<workspace>/<key>.
state {
  separation = "workspace"
  backend_config = {
    bucket       = "my-company-terraform-state" # placeholder
    key          = "bluegreen/staging/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true # S3-native state locking (Terraform >= 1.10, OpenTofu >= 1.10)
  }
}

# What "healthy" means: every target of the color healthy and the service stable within the
# timeout, checked every poll_interval. The same signals are watched during every bake and pause.
health {
  timeout       = "10m"
  poll_interval = "5s"

  # What a signal with nothing to report counts as: "fail" | "pass" | "wait" (see
  # docs/configuration.md). ECS and target health wait by default: right after a scale-up there
  # is nothing to read yet.
  # ecs           { no_data = "wait" }
  # target_health { no_data = "wait" }

  # CloudWatch alarms of the color ({color} becomes blue or green); any alarm in ALARM fails it.
  # alarms {
  #   names   = ["app-staging-{color}-5xx", "app-staging-{color}-latency"]
  #   no_data = "fail" # a missing alarm or INSUFFICIENT_DATA fails the color
  # }

  # HTTP checks, one block per check, through the test listener (the new color before any
  # production traffic): test_listener_port and health_check_path of shared.tfvars, on a name
  # the listener's certificate covers.
  # http "smoke" {
  #   url           = "https://app.staging.example.com:8443/healthz" # placeholder
  #   status        = 200
  #   body_contains = "ok"
  #   max_latency   = "2s"
  #   consecutive   = 3
  # }
}

# How long a listener change may take to read back as written before bluegreen gives up.
traffic { verify_timeout = "60s" }

# How production traffic moves to the new color; without this block, all at once.
# `bluegreen deploy --strategy canary:10:5m` overrides it for one run.
# strategy {
#   type    = "canary" # "all-at-once" | "canary" | "linear" | "steps"
#   percent = 10       # 10 % first, watched for `bake`, then 100 %
#   bake    = "5m"
# }
# strategy {
#   type     = "linear"
#   step     = 25     # 25, 50, 75, 100
#   interval = "1m"
# }
# strategy {
#   type = "steps"
#   steps = [
#     { weight = 10, bake = "1m" },
#     { pause = true },             # waits for `bluegreen promote`
#     { weight = 50, bake = "5m" },
#     { weight = 100 },
#   ]
# }

# Once all traffic is on the new color: watch it for `bake`, keep the old color up for
# `termination_wait` (a rollback is one listener change until then), then scale it down.
# promotion {
#   bake             = "2m"
#   termination_wait = "5m"
#   old_color        = "scale-down" # or "keep-warm": full size, instant rollback, full cost
# }
