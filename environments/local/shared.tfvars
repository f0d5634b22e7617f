# The shared stack of the local demo environment (modules/emulator/shared).
name               = "bg-local"
listener_port      = 80
test_listener      = true
test_listener_port = 8080
health_check_path  = "/"

# More production routes, shifted in lockstep with the listener on port 80 (all or nothing):
# a second listener, and a path rule on the production listener.
extra_listener_ports = [8081]
path_rules           = ["/api/*"]
