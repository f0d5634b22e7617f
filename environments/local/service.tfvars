# Both colors of the local environment (./service: modules/service with the real AWS provider).
# bluegreen passes color, image, target_group_arn and cluster_name itself. No `name`: the
# services and task definition families are bg-<environment>-<color> (bg-local-blue,
# bg-local-green).
container_port = 80
cpu            = 256
memory         = 512
