# The shared root of an environment: the load balancer, its production and test listeners,
# the two target groups (one per color) and the ECS cluster. Applied rarely.
#
# Runtime ownership: the listeners' default action is owned by bluegreen after the first
# deploy (see the lifecycle blocks below and docs/contract.md).

locals {
  colors   = toset(["blue", "green"])
  protocol = var.certificate_arn == null ? "HTTP" : "HTTPS"
}

resource "aws_lb" "this" {
  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.subnets
  security_groups            = var.security_groups
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  tags = var.tags
}

# Fixed per color: bluegreen only moves weights between them, targets never move.
resource "aws_lb_target_group" "this" {
  for_each = local.colors

  name                 = "${var.name}-${each.key}"
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

  # Only until bluegreen first points the test listener at the idle color.
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
    # bluegreen owns the action at run time: before it moves production traffic it points the
    # test listener at the idle color for smoke checks. A later apply must not reset it.
    ignore_changes = [default_action]

    precondition {
      condition     = var.test_listener_port != var.listener_port
      error_message = "The test_listener_port must differ from listener_port."
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  tags = var.tags
}
