# Example environment for real AWS: staging. Copy it and replace the placeholders in
# shared.tfvars, service.tfvars and backend.tfbackend.
#
# Before running bluegreen here:
#   - AWS credentials for the account (any standard source: AWS_PROFILE, SSO, instance role);
#     AWS_ENDPOINT_URL must NOT be set.
#   - The roots use a partial `backend "s3" {}`; hand them the S3 settings on every init:
#       export TF_CLI_ARGS_init="-backend-config=$PWD/environments/staging/backend.tfbackend"

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

# One workspace per stack in the one S3 key: staging-shared, staging-blue, staging-green.
state { separation = "workspace" }

# What "healthy" means: every target of the color healthy and the service stable within the
# timeout, checked every poll_interval.
health {
  timeout       = "10m"
  poll_interval = "5s"
}

# How long a listener change may take to read back as written before bluegreen gives up.
traffic { verify_timeout = "60s" }
