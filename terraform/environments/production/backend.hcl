# production's state: terraform -chdir=terraform/live init -reconfigure -backend-config=../environments/production/backend.hcl
bucket = "chatfn-terraform-state"
key    = "production/terraform.tfstate"
region = "eu-central-1"
