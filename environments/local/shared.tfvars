# The shared stack of the local environment (./shared: modules/shared and the network it needs,
# with the real AWS provider against the emulator). No `name`: every name derives from the
# environment's name, which bluegreen passes (bg-local, bg-local-alb, bg-local-blue,
# bg-local-green), so a copy of this directory under another name gets its own.
listener_port      = 80
test_listener      = true
test_listener_port = 8080
health_check_path  = "/"
# With the local data plane (scripts/demo.sh) the health checks are real: a new task is healthy
# after two passing checks, about one interval after it starts. 10 s instead of the module's 15.
health_check_interval = 10
container_port        = 80

# A second production route, shifted in lockstep with the listener on port 80 (all or
# nothing): a path rule on the production listener.
path_rules = ["/api/*"]
