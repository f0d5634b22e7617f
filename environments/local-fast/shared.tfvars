# The shared stack of the local-fast environment (modules/emulator/shared). No `name`: every
# name derives from the environment's name, which bluegreen passes (bg-local, bg-local-alb,
# bg-local-blue, bg-local-green), so a copy of this directory under another name gets its own.
listener_port      = 80
test_listener      = true
test_listener_port = 8080
health_check_path  = "/"

# More production routes, shifted in lockstep with the listener on port 80 (all or nothing):
# a second listener, and a path rule on the production listener.
extra_listener_ports = [8081]
path_rules           = ["/api/*"]
