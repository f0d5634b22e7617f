# Inputs bluegreen passes with -var on every plan of a color (docs/contract.md).

variable "color" {
  description = "The color this stack runs: \"blue\" or \"green\"."
  type        = string

  validation {
    condition     = contains(["blue", "green"], var.color)
    error_message = "The color must be \"blue\" or \"green\"."
  }
}

variable "image" {
  description = "Container image of the color's task definition, as resolved by bluegreen."
  type        = string

  validation {
    condition     = can(regex("^[^\\s]+$", var.image))
    error_message = "The image must be a non-empty image reference without whitespace."
  }
}

variable "target_group_arn" {
  description = "Target group of this color: target_group_arns[color] from the shared stack's outputs."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:elasticloadbalancing:[^:]*:[0-9]*:targetgroup/", var.target_group_arn))
    error_message = "The target_group_arn must be an ELBv2 target group ARN (arn:aws:elasticloadbalancing:...:targetgroup/...)."
  }
}

variable "cluster_name" {
  description = "ECS cluster of both colors: cluster_name from the shared stack's outputs."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.cluster_name))
    error_message = "The cluster_name must be 1-255 letters, digits, hyphens and underscores."
  }
}

# Inputs from the environment's var files.

variable "name" {
  description = "Service name prefix: the ECS service and the task definition family are `<name>-<color>`. null (the default): `bg-<bluegreen_environment>`, so that two environments never share a task definition family (docs/contract.md, \"Names\")."
  type        = string
  default     = null

  validation {
    condition     = var.name == null ? true : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,200}$", var.name))
    error_message = "The name must start with a letter or digit and contain only letters, digits, hyphens and underscores (at most 201 characters)."
  }
}

variable "bluegreen_environment" {
  description = "The environment's name, set by bluegreen on every command through TF_VAR_bluegreen_environment. Unless `name` is set, the service and family names derive from it: `bg-<bluegreen_environment>-<color>`."
  type        = string
  default     = null
}

variable "container_port" {
  description = "Port the container listens on; the load balancer sends traffic there."
  type        = number
  default     = 80

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "The container_port must be an integer between 1 and 65535."
  }
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "The cpu must be one of the Fargate sizes 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && floor(var.memory) == var.memory
    error_message = "The memory must be an integer number of MiB between 512 and 122880."
  }
}

variable "environment" {
  description = "Environment variables of the container."
  type        = map(string)
  default     = {}
}

variable "emulated_targets" {
  description = "How many always-registered stand-in targets to add to the color's target group: loopback addresses 127.0.<1 blue, 2 green>.<1..n> (nothing ever routes off-box). 0 (the default) with the project's emulator launcher, whose ecs-registers-service-targets patch registers one target per running task as ECS does; set it to at least desired_count on an emulator started without that patch."
  type        = number
  default     = 0

  validation {
    condition     = var.emulated_targets >= 0 && var.emulated_targets <= 254 && floor(var.emulated_targets) == var.emulated_targets
    error_message = "The emulated_targets must be an integer between 0 and 254."
  }
}

variable "python" {
  description = "Python interpreter that runs ../lib/bg_emulator.py; it must be able to import boto3 (the emulator's virtualenv, first on PATH when bluegreen runs)."
  type        = string
  default     = "python3"

  validation {
    condition     = length(var.python) > 0
    error_message = "The python interpreter must not be empty."
  }
}

variable "bluegreen_stack_dir" {
  description = "Private scratch directory of this stack, set by bluegreen through TF_VAR_bluegreen_stack_dir. The record of what the provisioners created (service.tfstate) is kept here."
  type        = string

  validation {
    # A relative path would resolve against the module directory.
    condition     = can(regex("^(/|[A-Za-z]:[\\\\/])", var.bluegreen_stack_dir))
    error_message = "The bluegreen_stack_dir must be an absolute path."
  }
}
