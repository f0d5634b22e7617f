# The outputs contract of the shared root (docs/contract.md). try(): a missing record (a
# wiped scratch directory) must not stop `destroy` from planning.

output "listener_arn" {
  description = "ARN of the production listener (string). Its default action is a 503 until bluegreen's first deploy installs the weighted forward over the two target groups."
  value       = try(data.terraform_remote_state.created.outputs.listener_arn, null)
}

output "test_listener_arn" {
  description = "ARN of the test listener (string), or null when test_listener is false."
  value       = try(data.terraform_remote_state.created.outputs.test_listener_arn, null)
}

output "extra_listener_arns" {
  description = "ARNs of the extra production listeners (list(string), in the order of extra_listener_ports; empty when there are none). bluegreen moves their default action in lockstep with listener_arn's."
  value       = try(data.terraform_remote_state.created.outputs.extra_listener_arns, [])
}

output "rule_arns" {
  description = "ARNs of the production listener's path rules (list(string), in the order of path_rules; empty when there are none). bluegreen moves their action in lockstep with listener_arn's default action."
  value       = try(data.terraform_remote_state.created.outputs.rule_arns, [])
}

output "target_group_arns" {
  description = "Target group ARN of each color (object { blue = string, green = string }). Fixed per color: only weights move."
  value       = try(data.terraform_remote_state.created.outputs.target_group_arns, null)
}

output "cluster_name" {
  description = "Name of the ECS cluster that runs both colors' services (string)."
  value       = try(data.terraform_remote_state.created.outputs.cluster_name, null)
}

output "load_balancer_arn" {
  description = "ARN of the application load balancer (string; informational)."
  value       = try(data.terraform_remote_state.created.outputs.load_balancer_arn, null)
}
