# The shared stack in the local emulator, built only from Terraform built-ins: the AWS work
# is done by ../lib/bg_emulator.py, run by local-exec provisioners without a shell.
#
# Two resources, so that changing a setting never deletes what bluegreen depends on:
#   terraform_data.stack     lifecycle anchor: `destroy` deletes the whole stack. It is never
#                            replaced (it has no triggers), because destroy-time provisioners
#                            do not run for objects replaced with create_before_destroy.
#   terraform_data.settings  replaced whenever a setting changes; its create provisioner
#                            upserts the stack (listeners and rules that exist keep the action
#                            bluegreen set).
#                            A new name is handled there too: the script creates the new stack,
#                            then deletes the one its record names.
#
# A provisioner cannot return values, so the script writes a record in the format of a
# Terraform state file and the outputs are read back from it with terraform_remote_state.

locals {
  # Every AWS name this module creates starts with this (docs/contract.md, "Names"): `name`
  # when it is set, else `bg-<environment>`, so that two environments never collide.
  name = var.name != null ? var.name : (var.bluegreen_environment == null ? null : "bg-${var.bluegreen_environment}")

  script = "${path.module}/../lib/bg_emulator.py"
  record = "${var.bluegreen_stack_dir}/shared.tfstate"
  # An empty record, read when the real one is missing.
  no_record = "${path.module}/../lib/no-record.json"
}

resource "terraform_data" "stack" {
  # Destroy-time provisioners can only reference `self`: keep what the destroy needs here.
  # A change updates it in place and runs nothing.
  input = {
    name   = local.name
    python = var.python
    script = local.script
    record = local.record
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = [self.input.python, self.input.script, "shared-destroy"]
    command = jsonencode({
      name   = self.input.name
      record = self.input.record
    })
  }
}

resource "terraform_data" "settings" {
  # Its `output` tells the data source below where (and, being unknown until this is
  # applied, when) to read the record.
  input = local.record

  triggers_replace = {
    name                 = local.name
    listener_port        = var.listener_port
    test_listener        = var.test_listener
    test_listener_port   = var.test_listener_port
    extra_listener_ports = var.extra_listener_ports
    path_rules           = var.path_rules
    route_start_color    = var.route_start_color
    health_check_path    = var.health_check_path
    record               = local.record
  }

  provisioner "local-exec" {
    interpreter = [var.python, local.script, "shared-apply"]
    command = jsonencode({
      name                 = local.name
      listener_port        = var.listener_port
      test_listener        = var.test_listener
      test_listener_port   = var.test_listener_port
      extra_listener_ports = var.extra_listener_ports
      path_rules           = var.path_rules
      route_start_color    = var.route_start_color
      health_check_path    = var.health_check_path
      record               = local.record
    })
  }

  lifecycle {
    # The upsert converges the running stack to the new settings before the old settings
    # object goes away (it has nothing to destroy).
    create_before_destroy = true

    precondition {
      # The derived name must be as valid as a given one: load balancer and target group
      # names are at most 32 characters of a-z, 0-9 and single hyphens; `<name>-green` must fit.
      condition     = try(can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", local.name)) && length(local.name) <= 20, false)
      error_message = "${local.name == null ? "No name prefix" : "The name prefix \"${local.name}\" is not valid"}: set `name` in the var file (at most 20 characters of a-z, 0-9 and single hyphens), or run through bluegreen, which passes the environment's name as bluegreen_environment: the default prefix `bg-<environment>` then needs an environment name of at most 17 characters of a-z, 0-9 and single hyphens."
    }

    precondition {
      condition     = !var.test_listener || var.test_listener_port != var.listener_port
      error_message = "The test_listener_port must differ from listener_port."
    }

    # A precondition, not a variable validation: validations that refer to other variables
    # need Terraform 1.9, and this module supports 1.5.
    precondition {
      condition     = !contains(var.extra_listener_ports, var.listener_port) && !(var.test_listener && contains(var.extra_listener_ports, var.test_listener_port))
      error_message = "The extra_listener_ports must not include listener_port or test_listener_port."
    }
  }
}

# Read at apply time, after terraform_data.settings has (re)written the record: its
# `output` (the record's path) is unknown until then. When nothing changes it is read at plan
# time and the plan is empty. A missing record (a wiped scratch directory) would fail every
# plan, `destroy` included ("Unable to find remote state"), so read an empty one instead: the
# outputs are then null (recover with `apply -replace=terraform_data.settings`). No check block
# warns about it: its assertion would be "known after apply", a warning, on every first plan.
data "terraform_remote_state" "created" {
  backend = "local"
  config = {
    path = fileexists(terraform_data.settings.output) ? terraform_data.settings.output : local.no_record
  }

  depends_on = [terraform_data.settings]
}
