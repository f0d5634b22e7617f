variable "name" {
  description = "Name prefix of every resource: the ALB is `<name>-alb`, the target groups `<name>-blue` and `<name>-green`, the ECS cluster `<name>`."
  type        = string

  validation {
    # Target group names allow letters, digits and single hyphens, not at either end, and at
    # most 32 characters: `<name>-green` must fit.
    condition     = can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 20
    error_message = "The name must be at most 20 characters of a-z, 0-9 and single hyphens, not starting or ending with a hyphen."
  }
}

variable "listener_port" {
  description = "Port of the production listener."
  type        = number
  default     = 80

  validation {
    condition     = var.listener_port >= 1 && var.listener_port <= 65535 && floor(var.listener_port) == var.listener_port
    error_message = "The listener_port must be an integer between 1 and 65535."
  }
}

variable "test_listener" {
  description = "Whether to create the test listener, through which bluegreen sends test traffic to the idle color before production traffic moves."
  type        = bool
  default     = true
}

variable "test_listener_port" {
  description = "Port of the test listener (ignored when test_listener is false). Must differ from listener_port."
  type        = number
  default     = 8080

  validation {
    condition     = var.test_listener_port >= 1 && var.test_listener_port <= 65535 && floor(var.test_listener_port) == var.test_listener_port
    error_message = "The test_listener_port must be an integer between 1 and 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path of the target groups' health check. The emulator reports registered targets healthy without checking it."
  type        = string
  default     = "/"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "The health_check_path must start with \"/\"."
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
  description = "Private scratch directory of this stack, set by bluegreen through TF_VAR_bluegreen_stack_dir. The record of what the provisioners created (shared.tfstate) is kept here."
  type        = string

  validation {
    # A relative path would resolve against the module directory.
    condition     = can(regex("^(/|[A-Za-z]:[\\\\/])", var.bluegreen_stack_dir))
    error_message = "The bluegreen_stack_dir must be an absolute path."
  }
}
