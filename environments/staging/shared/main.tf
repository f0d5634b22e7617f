# Root module of the staging shared stack on real AWS: a thin wrapper around
# modules/shared with a backend and a provider. Inputs come from ../shared.tfvars.

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
  # bluegreen keeps each stack in its own workspace of that one key.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "bluegreen:environment" = coalesce(var.bluegreen_environment, "staging")
      "bluegreen:stack"       = "shared"
    }
  }
}

variable "region" {
  description = "AWS region of the stack; keep it equal to `region` in ../bluegreen.hcl."
  type        = string
}

variable "name" {
  description = "Name prefix of the ALB, the target groups and the ECS cluster; null: bg-<environment>."
  type        = string
  default     = null
}

variable "bluegreen_environment" {
  description = "The environment's name, set by bluegreen through TF_VAR_bluegreen_environment; the module derives the names it does not get from it."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the load balancer and the target groups."
  type        = string
}

variable "subnets" {
  description = "Subnets of the load balancer (at least two availability zones)."
  type        = list(string)
}

variable "security_groups" {
  description = "Security groups of the load balancer."
  type        = list(string)
}

variable "internal" {
  description = "Whether the load balancer is internal."
  type        = bool
  default     = false
}

variable "listener_port" {
  description = "Port of the production listener."
  type        = number
  default     = 80
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS listeners, or null for HTTP."
  type        = string
  default     = null
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

variable "deletion_protection" {
  description = "Whether AWS refuses to delete the load balancer."
  type        = bool
  default     = true
}

variable "https_certificate_arn" {
  description = "ACM certificate of an extra HTTPS production listener shifted in lockstep, or null for none."
  type        = string
  default     = null
}

variable "https_listener_port" {
  description = "Port of the extra HTTPS production listener."
  type        = number
  default     = 443
}

variable "path_rules" {
  description = "Path patterns of production listener rules shifted in lockstep (e.g. [\"/api/*\"])."
  type        = list(string)
  default     = []
}

variable "route_start_color" {
  description = "Action of a newly created extra listener or rule: null (503 until the first deploy), or the live color."
  type        = string
  default     = null
}

module "shared" {
  source = "../../../modules/shared"

  name                  = var.name
  bluegreen_environment = var.bluegreen_environment
  vpc_id                = var.vpc_id
  subnets               = var.subnets
  security_groups       = var.security_groups
  internal              = var.internal
  listener_port         = var.listener_port
  certificate_arn       = var.certificate_arn
  test_listener         = var.test_listener
  test_listener_port    = var.test_listener_port
  health_check_path     = var.health_check_path
  deletion_protection   = var.deletion_protection

  https_certificate_arn = var.https_certificate_arn
  https_listener_port   = var.https_listener_port
  path_rules            = var.path_rules
  route_start_color     = var.route_start_color
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
