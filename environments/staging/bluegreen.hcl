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
# timeout, checked every poll_interval.
health {
  timeout       = "10m"
  poll_interval = "5s"
}

# How long a listener change may take to read back as written before bluegreen gives up.
traffic { verify_timeout = "60s" }
