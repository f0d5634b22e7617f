# One color in the local emulator, built only from Terraform built-ins: the AWS work is done
# by ../lib/bg_emulator.py, run by local-exec provisioners without a shell.
#
# Two resources, so that a new image never deletes the service:
#   terraform_data.service   lifecycle anchor: `destroy` scales the service to 0, deletes it,
#                            deregisters the family's task definitions and the targets. It is
#                            never replaced (it has no triggers), because destroy-time
#                            provisioners do not run for objects replaced with
#                            create_before_destroy.
#   terraform_data.revision  replaced whenever the image or another setting changes; its
#                            create provisioner registers a task definition revision and
#                            creates or updates the service (never its desired count). A new
#                            name, color or cluster is handled there too: the script creates the
#                            new service, then deletes the one its record names.
#
# A provisioner cannot return values, so the script writes a record in the format of a
# Terraform state file and the outputs are read back from it with terraform_remote_state.

locals {
  # The service and the task definition family are `<prefix>-<color>` (docs/contract.md,
  # "Names"): `name` when it is set, else `bg-<environment>`, so that two environments never
  # share a family (families are per account and region, not per cluster).
  prefix = var.name != null ? var.name : (var.bluegreen_environment == null ? null : "bg-${var.bluegreen_environment}")

  script = "${path.module}/../lib/bg_emulator.py"
  record = "${var.bluegreen_stack_dir}/service.tfstate"
  # An empty record, read when the real one is missing.
  no_record = "${path.module}/../lib/no-record.json"
}

resource "terraform_data" "service" {
  # Destroy-time provisioners can only reference `self`: keep what the destroy needs here.
  # A change updates it in place and runs nothing.
  input = {
    name             = local.prefix
    color            = var.color
    cluster_name     = var.cluster_name
    target_group_arn = var.target_group_arn
    python           = var.python
    script           = local.script
    record           = local.record
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = [self.input.python, self.input.script, "service-destroy"]
    command = jsonencode({
      name             = self.input.name
      color            = self.input.color
      cluster_name     = self.input.cluster_name
      target_group_arn = self.input.target_group_arn
      record           = self.input.record
    })
  }
}

resource "terraform_data" "revision" {
  # Its `output` tells the data source below where (and, being unknown until this is
  # applied, when) to read the record.
  input = local.record

  triggers_replace = {
    name             = local.prefix
    color            = var.color
    image            = var.image
    target_group_arn = var.target_group_arn
    cluster_name     = var.cluster_name
    container_port   = var.container_port
    cpu              = var.cpu
    memory           = var.memory
    environment      = var.environment
    emulated_targets = var.emulated_targets
    record           = local.record
  }

  provisioner "local-exec" {
    interpreter = [var.python, local.script, "service-apply"]
    command = jsonencode({
      name             = local.prefix
      color            = var.color
      image            = var.image
      target_group_arn = var.target_group_arn
      cluster_name     = var.cluster_name
      container_port   = var.container_port
      cpu              = var.cpu
      memory           = var.memory
      environment      = var.environment
      emulated_targets = var.emulated_targets
      record           = local.record
    })
  }

  lifecycle {
    # The new revision is in service before the old terraform_data object goes away (it has
    # nothing to destroy), just like replacing an aws_ecs_task_definition.
    create_before_destroy = true

    precondition {
      # The derived prefix must be as valid as a given one (ECS service and family names).
      condition     = try(can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,200}$", local.prefix)), false)
      error_message = "${local.prefix == null ? "No service name prefix" : "The service name prefix \"${local.prefix}\" is not valid"}: set `name` in the var file (letters, digits, hyphens and underscores, starting with a letter or digit), or run through bluegreen, which passes the environment's name as bluegreen_environment: the default prefix `bg-<environment>` then needs an environment name without dots."
    }
  }
}

# Read at apply time, after terraform_data.revision has (re)written the record: its
# `output` (the record's path) is unknown until then. When nothing changes it is read at plan
# time and the plan is empty. A missing record (a wiped scratch directory) would fail every
# plan, `destroy` included ("Unable to find remote state"), so read an empty one instead: the
# outputs are then null (recover with `apply -replace=terraform_data.revision`). No check block
# warns about it: its assertion would be "known after apply", a warning, on every first plan.
data "terraform_remote_state" "created" {
  backend = "local"
  config = {
    path = fileexists(terraform_data.revision.output) ? terraform_data.revision.output : local.no_record
  }

  depends_on = [terraform_data.revision]
}
