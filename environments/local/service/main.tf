# Root module of one color of the local environment: modules/service, the module a team applies
# on AWS, with the real hashicorp/aws provider, against the local emulator. bluegreen passes
# color, image, target_group_arn and cluster_name with -var and the environment's name through
# TF_VAR_bluegreen_environment; the network, the execution role and the log group are the
# shared root's, found here by the names it gave them.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # bluegreen supplies `path` and `workspace_dir` under its work directory.
  backend "local" {}
}

provider "aws" {
  default_tags {
    tags = {
      "bluegreen:environment" = var.bluegreen_environment
      "bluegreen:stack"       = var.color
    }
  }
}

# Passed by bluegreen on every plan (docs/contract.md).

variable "color" {
  description = "The color being planned: \"blue\" or \"green\"."
  type        = string

  validation {
    condition     = contains(["blue", "green"], var.color)
    error_message = "The color must be \"blue\" or \"green\"."
  }
}

variable "image" {
  description = "Container image, as resolved by bluegreen."
  type        = string
}

variable "target_group_arn" {
  description = "target_group_arns[color] from the shared stack."
  type        = string
}

variable "cluster_name" {
  description = "cluster_name from the shared stack."
  type        = string
}

variable "bluegreen_environment" {
  description = "The environment's name, set by bluegreen through TF_VAR_bluegreen_environment; the names derive from it."
  type        = string
}

# From ../service.tfvars.

variable "container_port" {
  description = "Port the container listens on (= container_port in ../shared.tfvars)."
  type        = number
  default     = 80
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 512
}

variable "environment" {
  description = "Environment variables of the container."
  type        = map(string)
  default     = {}
}

variable "alarm_period" {
  description = "Period of the color's 5xx alarm, in seconds: 10 or 30 (high-resolution metrics, as the local data plane publishes them) or a multiple of 60 (ALB's own metrics on AWS)."
  type        = number
  default     = 10

  validation {
    condition     = contains([10, 30], var.alarm_period) || (var.alarm_period > 0 && var.alarm_period % 60 == 0)
    error_message = "The alarm_period must be 10, 30 or a multiple of 60 seconds."
  }
}

variable "alarm_5xx_threshold" {
  description = "The color's 5xx alarm fires when its targets answer more 5xx than this in one period."
  type        = number
  default     = 5
}

locals {
  name = "bg-${var.bluegreen_environment}"
}

data "aws_vpc" "this" {
  tags = { Name = local.name }
}

data "aws_subnets" "app" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.this.id]
  }
  tags = { "bluegreen:subnet" = "app" }
}

data "aws_security_group" "tasks" {
  vpc_id = data.aws_vpc.this.id
  name   = "${local.name}-tasks"
}

data "aws_iam_role" "execution" {
  name = "${local.name}-ecs-execution"
}

module "service" {
  source = "../../../modules/service"

  color                 = var.color
  image                 = var.image
  target_group_arn      = var.target_group_arn
  cluster_name          = var.cluster_name
  bluegreen_environment = var.bluegreen_environment
  container_port        = var.container_port
  cpu                   = var.cpu
  memory                = var.memory
  subnets               = sort(data.aws_subnets.app.ids)
  security_groups       = [data.aws_security_group.tasks.id]
  execution_role_arn    = data.aws_iam_role.execution.arn
  environment           = var.environment
  log_group_name        = "/ecs/${local.name}"
}

# The color's 5xx alarm, as a team would write it for an ALB service: the targets' 5xx count in
# the color's target group, named so that bluegreen.hcl's `health { alarms { names =
# ["bg-local-{color}-5xx"] } }` reads the color being deployed. Missing data (no traffic on the
# color yet) is not breaching: a color at 0 % is not an incident. Period 10 s: the local data
# plane publishes ALB metrics at high resolution (docs/dataplane.md, "The demo"); on AWS, ALB
# metrics come per 60 s, so a team there writes period = 60. Without the data plane nothing
# evaluates the alarm and it stays in the state the emulator gives a new alarm (OK).

data "aws_lb_target_group" "this" {
  arn = var.target_group_arn
}

data "aws_lb" "this" {
  name = "${local.name}-alb"
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${local.name}-${var.color}-5xx"
  alarm_description   = "Targets of ${local.name}-${var.color} answer 5xx (bluegreen rolls the color back while it is in ALARM)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  statistic           = "Sum"
  period              = var.alarm_period
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_threshold
  treat_missing_data  = "notBreaching"

  dimensions = {
    TargetGroup  = data.aws_lb_target_group.this.arn_suffix
    LoadBalancer = data.aws_lb.this.arn_suffix
  }
}

# The outputs contract of the service root (docs/contract.md), passed through.

output "service_name" {
  description = "The color's ECS service."
  value       = module.service.service_name
}

output "cluster_name" {
  description = "ECS cluster of the service."
  value       = module.service.cluster_name
}

output "target_group_arn" {
  description = "Target group the service is attached to."
  value       = module.service.target_group_arn
}

output "task_definition_arn" {
  description = "Task definition revision the service runs."
  value       = module.service.task_definition_arn
}

output "image" {
  description = "Image in that task definition."
  value       = module.service.image
}

output "color" {
  description = "Echo of the color input."
  value       = module.service.color
}
