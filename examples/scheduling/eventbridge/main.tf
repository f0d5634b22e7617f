# EventBridge Scheduler runs bluegreen as a one-off ECS Fargate task: `drift` hourly and
# `rebuild` nightly for one environment. bluegreen is not a daemon; each task runs one command
# and stops, and its container exit code is bluegreen's (docs/exit-codes.md).
#
# The command is an argv list in the task definition (entryPoint + command), never a shell
# string, so nothing in a variable can become a second command.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name = "bluegreen-${var.environment}"

  # One task definition and one schedule per job. `command` is the argv after the entry point
  # (`bluegreen`); tests/examples.rs parses every `command` list here with the real CLI.
  jobs = {
    drift = {
      schedule = var.drift_schedule
      command  = ["drift", "--env", var.environment, "--output", "json"]
    }
    rebuild = {
      schedule = var.rebuild_schedule
      # Wait up to 30 minutes for a deploy that holds the environment lock (else exit 8).
      command = ["rebuild", "--env", var.environment, "--lock-timeout", "30m"]
    }
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  name              = "/ecs/${local.name}-scheduled"
  retention_in_days = 90
}

# --- Roles -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# ECS uses this one to pull the image and write the logs.
resource "aws_iam_role" "execution" {
  name               = "${local.name}-scheduled-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# bluegreen (and the terraform it runs) uses this one. Placeholder: attach what the
# environment's stacks need through var.task_policy_arns.
resource "aws_iam_role" "task" {
  name               = "${local.name}-scheduled-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "task" {
  for_each   = toset(var.task_policy_arns)
  role       = aws_iam_role.task.name
  policy_arn = each.value
}

# --- Task definitions --------------------------------------------------------------------------

resource "aws_ecs_task_definition" "job" {
  for_each = local.jobs

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  container_definitions = jsonencode([
    {
      name       = "bluegreen"
      image      = var.image
      essential  = true
      entryPoint = ["bluegreen"]
      command    = each.value.command
      # The image holds the repository with environments/ and modules/ here.
      workingDirectory = "/srv/deploy"
      environment = [
        # The task's disk is thrown away when it stops: the environment file must say
        # journal { backend = "dynamodb" ... } and its Terraform state must be remote.
        { name = "BLUEGREEN_WORK_DIR", value = "/tmp/bluegreen-work" },
        { name = "BLUEGREEN_ENVIRONMENTS_DIR", value = "/srv/deploy/environments" },
        # Recorded in the lock and the journal (`bluegreen history`).
        { name = "BLUEGREEN_USER", value = "eventbridge-scheduler/${each.key}" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.jobs.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    },
  ])
}

# --- The scheduler's role: run these task definitions and hand them their roles ---------------

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "RunTheJobs"
    actions   = ["ecs:RunTask"]
    resources = [for td in aws_ecs_task_definition.job : "${td.arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "PassTheTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-bluegreen-tasks"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# --- The schedules -----------------------------------------------------------------------------

resource "aws_scheduler_schedule" "job" {
  for_each = local.jobs

  name                         = "${local.name}-${each.key}"
  schedule_expression          = each.value.schedule
  schedule_expression_timezone = var.timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.cluster_arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.job[each.key].arn
      launch_type         = "FARGATE"
      task_count          = 1
      propagate_tags      = "TASK_DEFINITION"

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = var.security_group_ids
        assign_public_ip = false
      }
    }

    # Retries cover a RunTask call that failed (no capacity, throttling), not a task that ran
    # and exited non-zero: a started bluegreen command is never run twice by the scheduler.
    retry_policy {
      maximum_event_age_in_seconds = 1800
      maximum_retry_attempts       = 3
    }
  }
}

# --- Alerting on the exit code -----------------------------------------------------------------

# A scheduled task that stops with a non-zero exit code: 9 from drift (drift found), 5 from
# rebuild (the rebuilt color failed verification), 8 (locked), 3/4 (Terraform/AWS trouble) ...
resource "aws_cloudwatch_event_rule" "job_failed" {
  count       = var.alarm_topic_arn == null ? 0 : 1
  name        = "${local.name}-scheduled-failed"
  description = "A scheduled bluegreen task for ${var.environment} exited non-zero"

  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn        = [var.cluster_arn]
      lastStatus        = ["STOPPED"]
      taskDefinitionArn = [for td in aws_ecs_task_definition.job : { prefix = "${td.arn_without_revision}:" }]
      containers = {
        name     = ["bluegreen"]
        exitCode = [{ anything-but = 0 }]
      }
    }
  })
}

resource "aws_cloudwatch_event_target" "job_failed" {
  count = var.alarm_topic_arn == null ? 0 : 1
  rule  = aws_cloudwatch_event_rule.job_failed[0].name
  arn   = var.alarm_topic_arn

  input_transformer {
    input_paths = {
      task = "$.detail.taskDefinitionArn"
      code = "$.detail.containers[0].exitCode"
    }
    input_template = "\"bluegreen task <task> exited <code> (9 = drift found, 5 = rolled back, 8 = locked, 3/4 = Terraform/AWS trouble; docs/exit-codes.md). Output: log group ${aws_cloudwatch_log_group.jobs.name}.\""
  }
}
