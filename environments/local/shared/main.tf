# Root module of the local environment's shared stack: modules/shared, the module a team applies
# on AWS, with the real hashicorp/aws provider, against the local emulator (AWS_ENDPOINT_URL;
# the provider honours it for every service). Beside it, the network the module expects and the
# roles and log group the colors use — what a team's landing zone usually provides — named
# after the environment, so a copy of this directory under another name gets its own.
#
# The region is not an input: bluegreen passes AWS_REGION to every Terraform command
# (docs/configuration.md#region) and the provider reads it.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # bluegreen supplies `path` and `workspace_dir` under its work directory: no state is
  # written into this directory.
  backend "local" {}
}

provider "aws" {
  default_tags {
    tags = {
      "bluegreen:environment" = var.bluegreen_environment
      "bluegreen:stack"       = "shared"
    }
  }
}

variable "bluegreen_environment" {
  description = "The environment's name, set by bluegreen through TF_VAR_bluegreen_environment; every name below derives from it."
  type        = string
}

variable "container_port" {
  description = "Port the tasks listen on: the tasks' security group admits the load balancer's on it (= container_port in ../service.tfvars)."
  type        = number
  default     = 80
}

variable "listener_port" {
  description = "Port of the production listener."
  type        = number
  default     = 80
}

variable "test_listener" {
  description = "Whether to create the test listener."
  type        = bool
  default     = true
}

variable "test_listener_port" {
  description = "Port of the test listener."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "HTTP path of the target groups' health check."
  type        = string
  default     = "/"
}

variable "health_check_interval" {
  description = "Seconds between health checks of a target (modules/shared: 15 by default)."
  type        = number
  default     = 15
}

variable "path_rules" {
  description = "Path patterns of production listener rules shifted in lockstep (e.g. [\"/api/*\"])."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Whether AWS refuses to delete the load balancer. Off here: a local environment is thrown away."
  type        = bool
  default     = false
}

locals {
  name  = "bg-${var.bluegreen_environment}"
  zones = ["a", "b"]
}

data "aws_region" "current" {}

# ------------------------------------------------------------------------------ the network

resource "aws_vpc" "this" {
  cidr_block           = "10.40.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = local.name }
}

# Two subnets in two availability zones (an ALB needs two); the tasks use them too.
resource "aws_subnet" "this" {
  for_each = toset(local.zones)

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, index(local.zones, each.key))
  availability_zone = "${data.aws_region.current.name}${each.key}"
  tags              = { Name = "${local.name}-${each.key}", "bluegreen:subnet" = "app" }
}

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Load balancer of ${local.name}: clients on the listener ports."
  vpc_id      = aws_vpc.this.id

  ingress {
    description = "listeners"
    from_port   = min(var.listener_port, var.test_listener_port)
    to_port     = max(var.listener_port, var.test_listener_port)
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }

  egress {
    description = "to the tasks"
    from_port   = var.container_port
    to_port     = var.container_port
    protocol    = "tcp"
    cidr_blocks = [aws_vpc.this.cidr_block]
  }
}

resource "aws_security_group" "tasks" {
  name        = "${local.name}-tasks"
  description = "Tasks of ${local.name}: the load balancer on the container port."
  vpc_id      = aws_vpc.this.id

  ingress {
    description     = "from the load balancer"
    from_port       = var.container_port
    to_port         = var.container_port
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  egress {
    description = "image pulls and logs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# What ECS needs to start a task: pull the image, write its logs. Inline, not the AWS-managed
# AmazonECSTaskExecutionRolePolicy (the emulator holds managed policies only when told to).
resource "aws_iam_role" "execution" {
  name = "${local.name}-ecs-execution"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "execution" {
  name = "pull-and-log"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = "*"
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.app.arn}:*"
      },
    ]
  })
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${local.name}"
  retention_in_days = 7
}

# ------------------------------------------------------------------- load balancer and cluster

module "shared" {
  source = "../../../modules/shared"

  bluegreen_environment = var.bluegreen_environment
  vpc_id                = aws_vpc.this.id
  subnets               = [for s in aws_subnet.this : s.id]
  security_groups       = [aws_security_group.alb.id]
  internal              = true
  listener_port         = var.listener_port
  test_listener         = var.test_listener
  test_listener_port    = var.test_listener_port
  target_port           = var.container_port
  health_check_path     = var.health_check_path
  health_check_interval = var.health_check_interval
  path_rules            = var.path_rules
  deletion_protection   = var.deletion_protection
}

# The outputs contract of the shared root (docs/contract.md), passed through.

output "listener_arn" {
  description = "ARN of the production listener."
  value       = module.shared.listener_arn
}

output "test_listener_arn" {
  description = "ARN of the test listener, or null when it is disabled."
  value       = module.shared.test_listener_arn
}

output "target_group_arns" {
  description = "Target group ARN of each color: { blue, green }."
  value       = module.shared.target_group_arns
}

output "cluster_name" {
  description = "Name of the ECS cluster of both colors."
  value       = module.shared.cluster_name
}

output "load_balancer_arn" {
  description = "ARN of the load balancer (informational)."
  value       = module.shared.load_balancer_arn
}

output "extra_listener_arns" {
  description = "More production listeners, shifted in lockstep with the production listener."
  value       = module.shared.extra_listener_arns
}

output "rule_arns" {
  description = "Production listener rules, shifted in lockstep with the production listener."
  value       = module.shared.rule_arns
}

# What ../service finds by name (informational here).

output "vpc_id" {
  description = "The environment's VPC."
  value       = aws_vpc.this.id
}

output "log_group_name" {
  description = "Log group of both colors' containers."
  value       = aws_cloudwatch_log_group.app.name
}
