terraform {
  required_version = ">= 1.5"

  # No required_providers: terraform_data and terraform_remote_state are built into
  # Terraform and OpenTofu, so `init` downloads nothing.

  # bluegreen supplies `path` and `workspace_dir` under its work directory, so no state is
  # ever written into this module.
  backend "local" {}
}
