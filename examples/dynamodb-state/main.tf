# The DynamoDB table that bluegreen keeps the deployment journal and the environment lock in,
# for environments whose file says `journal { backend = "dynamodb", table = "..." }`.
# bluegreen never creates or changes the table; the required schema is in src/state/dynamo.rs.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

variable "name" {
  description = "Table name: the `table` of the environment files' `journal` block. One table serves every environment (items are keyed by environment name)."
  type        = string
  default     = "bluegreen-state"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "A DynamoDB table name is 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}

resource "aws_dynamodb_table" "state" {
  name = var.name
  # A deploy makes a few dozen small requests; on-demand costs nothing while idle.
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk" # env#<environment>
  range_key    = "sk" # lock | journal#<deployment>#<seq> | request#<deployment> | damaged#...

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  # The journal is the record of what happened to production traffic: keep it restorable, and
  # keep a stray `destroy` from removing it.
  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = true

  tags = var.tags
}

# What the role that runs bluegreen needs on the table, and nothing more.
data "aws_iam_policy_document" "bluegreen_state" {
  statement {
    sid = "BluegreenJournalAndLock"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      # A journal record is a TransactWriteItems: a check on the lock's fencing token + the
      # record's put. IAM authorizes each item action of a transaction.
      "dynamodb:ConditionCheckItem",
    ]
    resources = [aws_dynamodb_table.state.arn]
  }
}

output "table_name" {
  description = "For `journal { backend = \"dynamodb\", table = ... }` in each environment file."
  value       = aws_dynamodb_table.state.name
}

output "table_arn" {
  description = "The table's ARN."
  value       = aws_dynamodb_table.state.arn
}

output "policy_json" {
  description = "An IAM policy granting exactly the calls bluegreen makes on the table; attach it to the deploying role."
  value       = data.aws_iam_policy_document.bluegreen_state.json
}
