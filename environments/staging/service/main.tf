# Root module of one staging color on real AWS: a thin wrapper around modules/service with a
# backend and a provider. bluegreen passes color, image, target_group_arn and cluster_name
# with -var; the rest comes from ../service.tfvars.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Partial configuration: bucket, key, region and locking come from -backend-config,
  # which bluegreen builds from `state.backend_config` in ../bluegreen.hcl.
  # bluegreen keeps each color in its own workspace of that one key (staging-blue,
  # staging-green).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "bluegreen:environment" = coalesce(var.bluegreen_environment, "staging")
      "bluegreen:stack"       = var.color
    }
  }
}

variable "region" {
  description = "AWS region of the stack; keep it equal to `region` in ../bluegreen.hcl."
  type        = string
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

# From ../service.tfvars.

variable "name" {
  description = "Service name prefix: the service and the task definition family are `<name>-<color>`; null: bg-<environment>."
  type        = string
  default     = null
}

variable "bluegreen_environment" {
  description = "The environment's name, set by bluegreen through TF_VAR_bluegreen_environment; the module derives the names it does not get from it."
  type        = string
  default     = null
}

variable "container_port" {
  description = "Port the container listens on."
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

variable "subnets" {
  description = "Subnets of the tasks."
  type        = list(string)
}

variable "security_groups" {
  description = "Security groups of the tasks."
  type        = list(string)
}

variable "execution_role_arn" {
  description = "IAM role ECS uses to pull the image and write logs."
  type        = string
}

variable "task_role_arn" {
  description = "IAM role of the application, or null."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment variables of the container."
  type        = map(string)
  default     = {}
}

variable "log_group_name" {
  description = "CloudWatch Logs group of the container, or null."
  type        = string
  default     = null
}

module "service" {
  source = "../../../modules/service"

  color                 = var.color
  image                 = var.image
  target_group_arn      = var.target_group_arn
  cluster_name          = var.cluster_name
  name                  = var.name
  bluegreen_environment = var.bluegreen_environment
  container_port        = var.container_port
  cpu                   = var.cpu
  memory                = var.memory
  subnets               = var.subnets
  security_groups       = var.security_groups
  execution_role_arn    = var.execution_role_arn
  task_role_arn         = var.task_role_arn
  environment           = var.environment
  log_group_name        = var.log_group_name
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
