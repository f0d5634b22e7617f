# One color: its task definition and its ECS service on the color's target group. Applied
# once per color into separate state; blue and green are this same module with different
# `color`, `image` and `target_group_arn`, identical by construction.

locals {
  # The service and the task definition family are `<prefix>-<color>` (docs/contract.md,
  # "Names"): `name` when it is set, else `bg-<environment>`, so that two environments never
  # share a family (families are per account and region, not per cluster).
  prefix = var.name != null ? var.name : (var.bluegreen_environment == null ? null : "bg-${var.bluegreen_environment}")
  name   = "${local.prefix}-${var.color}"
  tags   = merge(var.tags, { "bluegreen:color" = var.color })

  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = coalesce(var.log_group_name, "unused")
      awslogs-region        = data.aws_region.current.name
      awslogs-stream-prefix = var.color
    }
  }

  container = merge(
    {
      name      = "app"
      image     = var.image
      essential = true
      portMappings = [{
        containerPort = var.container_port
        protocol      = "tcp"
      }]
      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    },
    # Present only with a log group: a null member would show as a diff on every plan.
    { for k, v in { logConfiguration = local.log_configuration } : k => v if var.log_group_name != null },
  )
}

data "aws_region" "current" {}

# A new image is a new revision (the resource is replaced and the old revision deregistered);
# the service below then rolls onto it.
resource "aws_ecs_task_definition" "this" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode([local.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  tags = local.tags

  lifecycle {
    # Register the new revision before deregistering the old one, so the service never points
    # at an INACTIVE revision, even briefly.
    create_before_destroy = true

    precondition {
      # The derived prefix must be as valid as a given one (ECS service and family names).
      condition     = try(can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,200}$", local.prefix)), false)
      error_message = "${local.prefix == null ? "No service name prefix" : "The service name prefix \"${local.prefix}\" is not valid"}: set `name` in the var file (letters, digits, hyphens and underscores, starting with a letter or digit), or run through bluegreen, which passes the environment's name as bluegreen_environment: the default prefix `bg-<environment>` then needs an environment name without dots."
    }
  }
}

resource "aws_ecs_service" "this" {
  name             = local.name
  cluster          = var.cluster_name
  task_definition  = aws_ecs_task_definition.this.arn
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # A new color starts with no tasks; bluegreen brings it to size when it deploys to it.
  desired_count = 0

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  # bluegreen waits for stability itself, with its own timeouts and health signals.
  wait_for_steady_state = false

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "app"
    container_port   = var.container_port
  }

  tags = local.tags

  lifecycle {
    # bluegreen scales the colors at run time: the idle color up before traffic moves, the old
    # color down after the termination wait. Without this, every apply would put the count back
    # to 0 and take the live color down.
    #
    # task_definition is deliberately NOT ignored (unlike terraform-aws-ecs): bluegreen deploys
    # a new image by planning this module with `-var image=...`.
    ignore_changes = [desired_count]
  }
}
