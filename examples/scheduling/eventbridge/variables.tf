variable "environment" {
  description = "The bluegreen environment to check and rebuild: a directory name under the image's environments/ directory. Passed as one argv element, never through a shell."
  type        = string

  validation {
    # A plain name: it can never be read as a flag or a path outside environments/.
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$", var.environment))
    error_message = "environment must be a plain name: letters, digits, '_' and '-', not starting with '-'."
  }
}

variable "image" {
  description = "Container image with bluegreen and terraform (or tofu) on PATH and the repository holding environments/ and modules/ at /srv/deploy, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/bluegreen-runner:1.4.0."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the scheduled tasks run in (any cluster with Fargate capacity; it need not be the application's)."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the task. They need a route to the AWS APIs (NAT gateway or VPC endpoints), to the registry the Terraform providers come from and to the health-check URLs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups for the task (egress only is enough)."
  type        = list(string)
}

variable "drift_schedule" {
  description = "When to run `bluegreen drift` (EventBridge Scheduler expression)."
  type        = string
  default     = "cron(7 * * * ? *)" # hourly
}

variable "rebuild_schedule" {
  description = "When to run `bluegreen rebuild` (EventBridge Scheduler expression)."
  type        = string
  default     = "cron(30 2 * * ? *)" # nightly
}

variable "timezone" {
  description = "Time zone of the schedule expressions."
  type        = string
  default     = "UTC"
}

variable "task_policy_arns" {
  description = "Policies for the role bluegreen runs as: what Terraform needs for the environment's stacks (and their state backend), the ECS/ELBv2/CloudWatch calls bluegreen makes, and the journal table (`terraform output -raw policy_json` of examples/dynamodb-state). Placeholders until you attach them."
  type        = list(string)
  default     = []
}

variable "alarm_topic_arn" {
  description = "SNS topic to tell when a scheduled task exits non-zero (9 = drift). Null: no alarm rule. The topic's policy must let events.amazonaws.com publish."
  type        = string
  default     = null
}

variable "cpu" {
  description = "Task CPU units (Fargate)."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Task memory in MiB (Fargate). Terraform plans of both colors run one after the other."
  type        = number
  default     = 1024
}
