# The shared root of an environment: the load balancer, its production and test listeners,
# the optional extra HTTPS production listener and path rules, the two target groups (one per
# color) and the ECS cluster. Applied rarely.
#
# Runtime ownership: the listeners' default action and the path rules' action are owned by
# bluegreen after the first deploy (see the lifecycle blocks below and docs/contract.md).

locals {
  # Every AWS name this module creates starts with this (docs/contract.md, "Names"): `name`
  # when it is set, else `bg-<environment>`, so that two environments never collide.
  name = var.name != null ? var.name : (var.bluegreen_environment == null ? null : "bg-${var.bluegreen_environment}")

  colors   = toset(["blue", "green"])
  protocol = var.certificate_arn == null ? "HTTP" : "HTTPS"

  # The start action of the routes added next to the production listener (HTTPS listener,
  # path rules): exactly one of these has an element.
  start_fixed_response = var.route_start_color == null ? ["503"] : []
  start_forward        = var.route_start_color == null ? [] : [var.route_start_color]
}

resource "aws_lb" "this" {
  name                       = "${local.name}-alb"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.subnets
  security_groups            = var.security_groups
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  tags = var.tags

  lifecycle {
    precondition {
      # The derived name must be as valid as a given one: load balancer and target group
      # names are at most 32 characters of a-z, 0-9 and single hyphens; `<name>-green` must fit.
      condition     = try(can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", local.name)) && length(local.name) <= 20, false)
      error_message = "${local.name == null ? "No name prefix" : "The name prefix \"${local.name}\" is not valid"}: set `name` in the var file (at most 20 characters of a-z, 0-9 and single hyphens), or run through bluegreen, which passes the environment's name as bluegreen_environment: the default prefix `bg-<environment>` then needs an environment name of at most 17 characters of a-z, 0-9 and single hyphens."
    }
  }
}

# Fixed per color: bluegreen only moves weights between them, targets never move.
resource "aws_lb_target_group" "this" {
  for_each = local.colors

  name                 = "${local.name}-${each.key}"
  vpc_id               = var.vpc_id
  target_type          = "ip" # Fargate tasks (awsvpc) register by IP
  protocol             = "HTTP"
  port                 = var.target_port
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = var.health_check_interval
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { "bluegreen:color" = each.key })
}

resource "aws_lb_listener" "production" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.listener_port
  protocol          = local.protocol
  certificate_arn   = var.certificate_arn
  ssl_policy        = var.certificate_arn == null ? null : var.ssl_policy

  # Only until bluegreen's first deploy, which replaces it with a weighted forward over the
  # two target groups.
  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "no color deployed yet"
      status_code  = "503"
    }
  }

  tags = var.tags

  lifecycle {
    # bluegreen owns the action at run time: it sets and moves the weights of the forward
    # action while it deploys and rolls back. Without this, a later apply of this stack would
    # silently reset the action to the 503 above, taking production traffic away from the live
    # color. bluegreen checks this contract.
    ignore_changes = [default_action]
  }
}

resource "aws_lb_listener" "test" {
  count = var.test_listener ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = var.test_listener_port
  protocol          = local.protocol
  certificate_arn   = var.certificate_arn
  ssl_policy        = var.certificate_arn == null ? null : var.ssl_policy

  # Forwards to both target groups from the start (blue 100, green 0), so that both are
  # associated with the load balancer before the first deploy: ECS refuses to create a service
  # on a target group that no listener or rule forwards to ("The target group with
  # targetGroupArn … does not have an associated load balancer."), and a color's service is
  # created before any production route forwards to it. The weights do not matter: bluegreen
  # points the test listener at the idle color before any smoke check, and until then both
  # target groups are empty (the load balancer answers 503).
  default_action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.colors
        content {
          arn    = aws_lb_target_group.this[target_group.key].arn
          weight = target_group.key == "blue" ? 100 : 0
        }
      }
    }
  }

  tags = var.tags

  lifecycle {
    # bluegreen owns the action at run time: before it moves production traffic it points the
    # test listener at the idle color for smoke checks. A later apply must not reset it.
    ignore_changes = [default_action]

    precondition {
      condition     = var.test_listener_port != var.listener_port
      error_message = "The test_listener_port must differ from listener_port."
    }
  }
}

# Without the test listener, this rule associates both target groups with the load balancer
# instead (see the test listener above for why that must hold before the first deploy). It
# never matches a request: its only condition is a source address no TCP client can have
# (255.255.255.255 is the limited broadcast address), so production traffic never takes it and
# bluegreen never reads or moves it (it is not in rule_arns). The last priority, out of the way
# of path_rules (1, 2, ...).
resource "aws_lb_listener_rule" "associate" {
  count = var.test_listener ? 0 : 1

  listener_arn = aws_lb_listener.production.arn
  priority     = 50000

  action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.colors
        content {
          arn    = aws_lb_target_group.this[target_group.key].arn
          weight = target_group.key == "blue" ? 100 : 0
        }
      }
    }
  }

  condition {
    source_ip {
      values = ["255.255.255.255/32"]
    }
  }

  tags = var.tags
}

# A second production listener (HTTPS next to the HTTP one). Production traffic reaches the
# colors through it as well, so bluegreen shifts its weights in lockstep with the production
# listener's: it is in the extra_listener_arns output.
resource "aws_lb_listener" "https" {
  count = var.https_certificate_arn == null ? 0 : 1

  load_balancer_arn = aws_lb.this.arn
  port              = var.https_listener_port
  protocol          = "HTTPS"
  certificate_arn   = var.https_certificate_arn
  ssl_policy        = var.ssl_policy

  # Only until bluegreen's first deploy (or, with route_start_color, all to that color).
  default_action {
    type = var.route_start_color == null ? "fixed-response" : "forward"

    dynamic "fixed_response" {
      for_each = local.start_fixed_response
      content {
        content_type = "text/plain"
        message_body = "no color deployed yet"
        status_code  = fixed_response.value
      }
    }

    dynamic "forward" {
      for_each = local.start_forward
      content {
        dynamic "target_group" {
          for_each = local.colors
          content {
            arn    = aws_lb_target_group.this[target_group.key].arn
            weight = target_group.key == forward.value ? 100 : 0
          }
        }
      }
    }
  }

  tags = var.tags

  lifecycle {
    # bluegreen owns the action at run time, as on the production listener: a later apply
    # must not reset it, or HTTPS clients would be sent elsewhere than HTTP clients.
    ignore_changes = [default_action]

    precondition {
      condition     = var.https_listener_port != var.listener_port && !(var.test_listener && var.https_listener_port == var.test_listener_port)
      error_message = "The https_listener_port must differ from listener_port and test_listener_port."
    }
  }
}

# Path rules on the production listener. Keyed by position, not by pattern: editing or
# reordering path_rules then changes a rule's condition in place and keeps its action (the
# weights bluegreen set); only a longer list creates a rule, which starts like the HTTPS
# listener. They are in the rule_arns output, so bluegreen shifts them in lockstep.
resource "aws_lb_listener_rule" "path" {
  count = length(var.path_rules)

  listener_arn = aws_lb_listener.production.arn
  priority     = count.index + 1

  action {
    type = var.route_start_color == null ? "fixed-response" : "forward"

    dynamic "fixed_response" {
      for_each = local.start_fixed_response
      content {
        content_type = "text/plain"
        message_body = "no color deployed yet"
        status_code  = fixed_response.value
      }
    }

    dynamic "forward" {
      for_each = local.start_forward
      content {
        dynamic "target_group" {
          for_each = local.colors
          content {
            arn    = aws_lb_target_group.this[target_group.key].arn
            weight = target_group.key == forward.value ? 100 : 0
          }
        }
      }
    }
  }

  condition {
    path_pattern {
      values = [var.path_rules[count.index]]
    }
  }

  tags = var.tags

  lifecycle {
    # bluegreen owns the action at run time: it moves the weights of every production route
    # together, all or nothing. Without this, a later apply would reset this path to the start
    # action while the listener keeps serving the live color. bluegreen checks this contract.
    ignore_changes = [action]
  }
}

resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  tags = var.tags
}
