# The outputs contract of the service root (docs/contract.md).

output "service_name" {
  description = "Name of the color's ECS service, `<name>-<color>` (string)."
  value       = aws_ecs_service.this.name
}

output "cluster_name" {
  description = "ECS cluster the service runs in (string); equals the shared root's cluster_name."
  value       = var.cluster_name
}

output "target_group_arn" {
  description = "Target group the service is attached to (string); equals the shared root's target group of this color."
  value       = var.target_group_arn
}

output "task_definition_arn" {
  description = "Task definition revision the service runs (string)."
  value       = aws_ecs_task_definition.this.arn
}

output "image" {
  description = "Container image in that task definition (string)."
  value       = var.image
}

output "color" {
  description = "The color of this stack, echoed from the input (string)."
  value       = var.color
}
