# staging's state: terraform -chdir=terraform/live init -reconfigure -backend-config=../environments/staging/backend.hcl
bucket = "chatfn-terraform-state"
key    = "staging/terraform.tfstate"
region = "eu-central-1"
