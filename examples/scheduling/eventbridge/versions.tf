terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_scheduler_schedule and aws_ecs_task_definition.arn_without_revision
      version = ">= 5.0"
    }
  }
}
