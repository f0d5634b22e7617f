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
  description = "Container image of the color's task definition, as resolved by bluegreen (for ECR: pinned by digest)."
  type        = string

  validation {
    condition     = can(regex("^[^\\s]+$", var.image))
    error_message = "The image must be a non-empty image reference without whitespace."
  }
}

variable "target_group_arn" {
  description = "Target group of this color: target_group_arns[color] from the shared root's outputs."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:elasticloadbalancing:[^:]+:[0-9]{12}:targetgroup/", var.target_group_arn))
    error_message = "The target_group_arn must be an ELBv2 target group ARN (arn:aws:elasticloadbalancing:...:targetgroup/...)."
  }
}

variable "cluster_name" {
  description = "ECS cluster of both colors: cluster_name from the shared root's outputs."
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
  description = "Fargate task memory in MiB (must be a valid combination with cpu)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && floor(var.memory) == var.memory
    error_message = "The memory must be an integer number of MiB between 512 and 122880."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks: \"X86_64\" or \"ARM64\"; it must match the image."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The cpu_architecture must be \"X86_64\" or \"ARM64\"."
  }
}

variable "subnets" {
  description = "Subnets of the tasks (awsvpc network mode)."
  type        = list(string)

  validation {
    condition     = length(var.subnets) >= 1 && alltrue([for s in var.subnets : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Give at least one subnet ID (subnet-...)."
  }
}

variable "security_groups" {
  description = "Security groups of the tasks. They must admit the load balancer on container_port."
  type        = list(string)

  validation {
    condition     = length(var.security_groups) >= 1 && alltrue([for g in var.security_groups : can(regex("^sg-[0-9a-f]+$", g))])
    error_message = "Give at least one security group ID (sg-...)."
  }
}

variable "assign_public_ip" {
  description = "Whether the tasks get a public IP (needed in public subnets without a NAT gateway to pull the image)."
  type        = bool
  default     = false
}

variable "execution_role_arn" {
  description = "IAM role ECS uses to pull the image and write logs."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:iam::[0-9]{12}:role/", var.execution_role_arn))
    error_message = "The execution_role_arn must be an IAM role ARN (arn:aws:iam::...:role/...)."
  }
}

variable "task_role_arn" {
  description = "IAM role of the application in the task, or null for none."
  type        = string
  default     = null

  validation {
    condition     = var.task_role_arn == null || can(regex("^arn:[^:]+:iam::[0-9]{12}:role/", var.task_role_arn))
    error_message = "The task_role_arn must be an IAM role ARN (arn:aws:iam::...:role/...) or null."
  }
}

variable "environment" {
  description = "Environment variables of the container (not for secrets: they are visible in the task definition)."
  type        = map(string)
  default     = {}
}

variable "log_group_name" {
  description = "CloudWatch Logs group the container logs to (awslogs driver, stream prefix = color), or null for no log configuration. The group must exist."
  type        = string
  default     = null
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing load balancer health checks of a new task."
  type        = number
  default     = 30

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647
    error_message = "The health_check_grace_period_seconds must not be negative."
  }
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
