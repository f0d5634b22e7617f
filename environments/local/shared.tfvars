# The shared stack of the local demo environment (modules/emulator/shared).
name               = "bg-local"
listener_port      = 80
test_listener      = true
test_listener_port = 8080
health_check_path  = "/"
