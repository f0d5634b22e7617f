# Inputs of the staging shared stack (environments/staging/shared). Placeholders: replace
# every ID below with your account's.

region = "eu-west-1" # = region in bluegreen.hcl
# Explicit names win. Without this line every name derives from the environment's name:
# bg-staging, bg-staging-alb, bg-staging-blue, bg-staging-green (docs/contract.md, "Names").
name = "bg-staging"

# The load balancer lives in public subnets of two availability zones.
vpc_id          = "vpc-0123456789abcdef0"
subnets         = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
security_groups = ["sg-0ccccccccccccccc3"] # clients on 443; only CI/VPN on 8443

# HTTPS on both listeners; set certificate_arn = null (and the ports to 80/8080) for HTTP.
listener_port      = 443
test_listener_port = 8443
certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
test_listener      = true

health_check_path = "/healthz"
