variable "name" {
  description = "Name prefix of every resource: the ALB is `<name>-alb`, the target groups `<name>-blue` and `<name>-green`, the ECS cluster `<name>`. null (the default): `bg-<bluegreen_environment>`, so that two environments never share a name (docs/contract.md, \"Names\")."
  type        = string
  default     = null

  validation {
    # Load balancer and target group names allow letters, digits and single hyphens, not at
    # either end, and at most 32 characters: `<name>-green` must fit.
    condition     = var.name == null ? true : can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 20
    error_message = "The name must be at most 20 characters of a-z, 0-9 and single hyphens, not starting or ending with a hyphen."
  }
}

variable "bluegreen_environment" {
  description = "The environment's name, set by bluegreen on every command through TF_VAR_bluegreen_environment. Unless `name` is set, every name derives from it: `bg-<bluegreen_environment>`."
  type        = string
  default     = null
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

variable "extra_listener_ports" {
  description = "Ports of more production listeners (e.g. 443 next to 80). bluegreen moves their default action in lockstep with the production listener's: they start as a 503 (or see route_start_color) and then forward with the same weights. Must not repeat, nor use listener_port or test_listener_port."
  type        = list(number)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.extra_listener_ports : p >= 1 && p <= 65535 && floor(p) == p])
    error_message = "Every extra_listener_ports entry must be an integer between 1 and 65535."
  }

  validation {
    condition     = length(distinct(var.extra_listener_ports)) == length(var.extra_listener_ports)
    error_message = "The extra_listener_ports must not repeat a port."
  }
}

variable "path_rules" {
  description = "Path patterns (e.g. \"/api/*\") of production listener rules, in priority order: the rule for the first pattern gets priority 1, the next 2, and so on. bluegreen moves each rule's action in lockstep with the production listener's default action; a rule starts as a 503 (or see route_start_color)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    # What an ALB accepts in a path-pattern condition: case-sensitive, at most 128 characters.
    condition     = alltrue([for p in var.path_rules : can(regex("^[A-Za-z0-9_.$/~\"'@:+&*?-]{1,128}$", p))])
    error_message = "Every path_rules entry must be 1 to 128 characters of A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & * ?."
  }

  validation {
    condition     = length(distinct(var.path_rules)) == length(var.path_rules)
    error_message = "The path_rules must not repeat a pattern."
  }
}

variable "route_start_color" {
  description = "What an extra listener or a path rule does when this module creates it: null (the default) answers 503 until bluegreen's first deploy, like the production listener; \"blue\" or \"green\" forwards everything to that color. Set it to the live color before adding a route to an environment that already serves traffic, so the new route starts in step with the others. Routes that exist are never changed: bluegreen owns their action."
  type        = string
  default     = null

  validation {
    condition     = var.route_start_color == null || contains(["blue", "green"], coalesce(var.route_start_color, "none"))
    error_message = "The route_start_color must be null, \"blue\" or \"green\"."
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
