# Inputs of both staging colors (environments/staging/service). bluegreen passes color,
# image, target_group_arn and cluster_name itself. Placeholders: replace every ID below.

region = "eu-west-1" # = region in bluegreen.hcl
# Explicit names win: services and task definition families app-blue and app-green. Without
# this line they are bg-<environment>-<color> (docs/contract.md, "Names").
name = "app"

container_port = 8080
cpu            = 512
memory         = 1024

# The tasks live in private subnets; their security group admits the ALB's on 8080.
subnets         = ["subnet-0ddddddddddddddd4", "subnet-0eeeeeeeeeeeeeee5"]
security_groups = ["sg-0fffffffffffffff6"]

execution_role_arn = "arn:aws:iam::123456789012:role/app-staging-ecs-execution"
task_role_arn      = "arn:aws:iam::123456789012:role/app-staging-task"
log_group_name     = "/ecs/app-staging" # must exist

environment = {
  APP_ENV = "staging"
}
