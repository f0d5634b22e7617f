# Both colors of the local-fast environment (modules/emulator/service). bluegreen passes
# color, image, target_group_arn and cluster_name itself. No `name`: the services and task
# definition families are bg-<environment>-<color> (bg-local-blue, bg-local-green).
container_port = 80
cpu            = 256
memory         = 512

# No emulated_targets: the emulator launcher registers one target per running task, as ECS
# does (docs/emulator.md, ecs-registers-service-targets).
