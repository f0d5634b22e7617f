# Golden-file environment: environments/local with absolute module paths, an alarm per color,
# and the demo's canary (20% for 3s, then 100%), post-promotion bake and termination wait.
region = "us-east-1"

iac { binary = "auto" }

shared {
  root      = "/work/wt-golden/modules/emulator/shared"
  var_files = ["/work/wt-golden/environments/local/shared.tfvars"]
}

service {
  root          = "/work/wt-golden/modules/emulator/service"
  var_files     = ["/work/wt-golden/environments/local/service.tfvars"]
  desired_count = 2
}

state { separation = "workspace" }

health {
  timeout       = "1m"
  poll_interval = "500ms"
  alarms { names = ["app-{color}-5xx"] }
}

traffic { verify_timeout = "20s" }

strategy {
  type    = "canary"
  percent = 20
  bake    = "3s"
}

promotion {
  bake             = "2s"
  termination_wait = "3s"
  old_color        = "scale-down"
}
