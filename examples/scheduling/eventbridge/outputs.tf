output "schedule_arns" {
  description = "The EventBridge Scheduler schedules, by job (drift, rebuild)."
  value       = { for job, s in aws_scheduler_schedule.job : job => s.arn }
}

output "task_definition_arns" {
  description = "The task definitions the schedules run, by job. `aws ecs run-task` with one of them runs the job now."
  value       = { for job, td in aws_ecs_task_definition.job : job => td.arn }
}

output "task_role_name" {
  description = "The role bluegreen runs as: attach the policies it needs (see task_policy_arns)."
  value       = aws_iam_role.task.name
}

output "log_group_name" {
  description = "Where the jobs' output goes: the log on stderr and, for drift, the JSON report as the last stdout line."
  value       = aws_cloudwatch_log_group.jobs.name
}
