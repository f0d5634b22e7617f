# Both colors of the local demo environment (modules/emulator/service). bluegreen passes
# color, image, target_group_arn and cluster_name itself. No `name`: the services and task
# definition families are bg-<environment>-<color> (bg-local-blue, bg-local-green).
container_port = 80
cpu            = 256
memory         = 512

# At least service.desired_count in bluegreen.hcl: the emulator registers this many
# always-healthy loopback targets in the color's target group.
emulated_targets = 2
