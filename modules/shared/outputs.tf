# The outputs contract of the shared root (docs/contract.md).

output "listener_arn" {
  description = "ARN of the production listener (string). Its default action is a 503 until bluegreen's first deploy installs the weighted forward over the two target groups."
  value       = aws_lb_listener.production.arn
}

output "test_listener_arn" {
  description = "ARN of the test listener (string), or null when test_listener is false."
  value       = one(aws_lb_listener.test[*].arn)
}

output "extra_listener_arns" {
  description = "ARNs of the extra production listeners (list(string)): the HTTPS listener when https_certificate_arn is set, else empty. bluegreen moves their default action in lockstep with listener_arn's."
  value       = aws_lb_listener.https[*].arn
}

output "rule_arns" {
  description = "ARNs of the production listener's path rules (list(string), in the order of path_rules; empty when there are none). bluegreen moves their action in lockstep with listener_arn's default action."
  value       = aws_lb_listener_rule.path[*].arn
}

output "target_group_arns" {
  description = "Target group ARN of each color (object { blue = string, green = string }). Fixed per color: only weights move."
  value = {
    blue  = aws_lb_target_group.this["blue"].arn
    green = aws_lb_target_group.this["green"].arn
  }
}

output "cluster_name" {
  description = "Name of the ECS cluster that runs both colors' services (string)."
  value       = aws_ecs_cluster.this.name
}

output "load_balancer_arn" {
  description = "ARN of the application load balancer (string; informational)."
  value       = aws_lb.this.arn
}
