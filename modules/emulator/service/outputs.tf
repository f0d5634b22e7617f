# The outputs contract of the service root (docs/contract.md). try(): a missing record (a
# wiped scratch directory) must not stop `destroy` from planning.

output "service_name" {
  description = "Name of the color's ECS service, `<name>-<color>` (string)."
  value       = try(data.terraform_remote_state.created.outputs.service_name, null)
}

output "cluster_name" {
  description = "ECS cluster the service runs in (string); equals the shared stack's cluster_name."
  value       = try(data.terraform_remote_state.created.outputs.cluster_name, null)
}

output "target_group_arn" {
  description = "Target group the service is attached to (string); equals the shared stack's target group of this color."
  value       = try(data.terraform_remote_state.created.outputs.target_group_arn, null)
}

output "task_definition_arn" {
  description = "Task definition revision the service runs (string)."
  value       = try(data.terraform_remote_state.created.outputs.task_definition_arn, null)
}

output "image" {
  description = "Container image in that task definition (string)."
  value       = try(data.terraform_remote_state.created.outputs.image, null)
}

output "color" {
  description = "The color of this stack, echoed from the input (string)."
  value       = try(data.terraform_remote_state.created.outputs.color, null)
}
