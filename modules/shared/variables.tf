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

variable "vpc_id" {
  description = "VPC of the load balancer and the target groups."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnets" {
  description = "Subnets of the load balancer: at least two, in different availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnets) >= 2 && alltrue([for s in var.subnets : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Give at least two subnet IDs (subnet-...)."
  }
}

variable "security_groups" {
  description = "Security groups of the load balancer. They must admit clients on listener_port and, if the test listener is on, only trusted callers (bluegreen's smoke checks) on test_listener_port."
  type        = list(string)

  validation {
    condition     = length(var.security_groups) >= 1 && alltrue([for g in var.security_groups : can(regex("^sg-[0-9a-f]+$", g))])
    error_message = "Give at least one security group ID (sg-...)."
  }
}

variable "internal" {
  description = "Whether the load balancer is internal (true) or internet-facing (false)."
  type        = bool
  default     = false
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

variable "certificate_arn" {
  description = "ACM certificate ARN. When set, both listeners speak HTTPS with it; when null, plain HTTP."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:[^:]+:acm:[^:]+:[0-9]{12}:certificate/", var.certificate_arn))
    error_message = "The certificate_arn must be an ACM certificate ARN (arn:aws:acm:...:certificate/...) or null."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listeners (used only with certificate_arn)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-")
    error_message = "The ssl_policy must name an ELB security policy (ELBSecurityPolicy-...)."
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

variable "https_certificate_arn" {
  description = "ACM certificate ARN of an extra HTTPS production listener on https_listener_port, next to the production listener (e.g. HTTPS on 443 beside HTTP on 80). null (the default): no extra listener. bluegreen moves its default action in lockstep with the production listener's."
  type        = string
  default     = null

  validation {
    condition     = var.https_certificate_arn == null || can(regex("^arn:[^:]+:acm:[^:]+:[0-9]{12}:certificate/", var.https_certificate_arn))
    error_message = "The https_certificate_arn must be an ACM certificate ARN (arn:aws:acm:...:certificate/...) or null."
  }
}

variable "https_listener_port" {
  description = "Port of the extra HTTPS production listener (used only with https_certificate_arn). Must differ from listener_port and test_listener_port."
  type        = number
  default     = 443

  validation {
    condition     = var.https_listener_port >= 1 && var.https_listener_port <= 65535 && floor(var.https_listener_port) == var.https_listener_port
    error_message = "The https_listener_port must be an integer between 1 and 65535."
  }
}

variable "path_rules" {
  description = "Path patterns (e.g. \"/api/*\") of rules on the production listener, in priority order: the first pattern's rule gets priority 1, the next 2, and so on. bluegreen moves each rule's action in lockstep with the production listener's default action."
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
  description = "The action of the HTTPS listener and the path rules when this module creates them: null (the default) answers 503 until bluegreen's first deploy, like the production listener; \"blue\" or \"green\" forwards everything to that color. Set it to the live color before adding a route to an environment that already serves traffic, so the new route starts in step with the others. Existing routes are never changed: bluegreen owns their action."
  type        = string
  default     = null

  validation {
    condition     = var.route_start_color == null || contains(["blue", "green"], coalesce(var.route_start_color, "none"))
    error_message = "The route_start_color must be null, \"blue\" or \"green\"."
  }
}

variable "target_port" {
  description = "Port of the target groups. ECS registers each task with its container port, which takes precedence; this is the default for targets registered without one."
  type        = number
  default     = 80

  validation {
    condition     = var.target_port >= 1 && var.target_port <= 65535 && floor(var.target_port) == var.target_port
    error_message = "The target_port must be an integer between 1 and 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path of the target groups' health check."
  type        = string
  default     = "/"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "The health_check_path must start with \"/\"."
  }
}

variable "health_check_matcher" {
  description = "HTTP codes a healthy target answers the health check with, e.g. \"200\" or \"200-399\"."
  type        = string
  default     = "200-399"

  validation {
    condition     = can(regex("^[0-9]{3}([-,][0-9]{3})*$", var.health_check_matcher))
    error_message = "The health_check_matcher must be HTTP codes such as \"200\", \"200,204\" or \"200-399\"."
  }
}

variable "health_check_interval" {
  description = "Seconds between health checks of a target."
  type        = number
  default     = 15

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "The health_check_interval must be between 5 and 300 seconds."
  }
}

variable "deregistration_delay" {
  description = "Seconds the target groups drain a deregistered target before it is removed."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "The deregistration_delay must be between 0 and 3600 seconds."
  }
}

variable "idle_timeout" {
  description = "Seconds a connection may stay idle at the load balancer."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "The idle_timeout must be between 1 and 4000 seconds."
  }
}

variable "deletion_protection" {
  description = "Whether AWS refuses to delete the load balancer (turn it off before destroying the stack)."
  type        = bool
  default     = true
}

variable "container_insights" {
  description = "Whether the ECS cluster publishes Container Insights metrics."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
