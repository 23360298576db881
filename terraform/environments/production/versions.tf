terraform {
  required_version = ">= 1.10.0"

  # Remote state, locked with S3's own conditional writes (use_lockfile, Terraform >= 1.10).
  # The state holds no secret value: every secret reaches the cluster through External Secrets.
  backend "s3" {
    bucket       = "chatfn-terraform-state"
    key          = "production/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    use_lockfile = true
  }

  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = "2.17.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "2.35.1"
    }
    kubectl = {
      source  = "alekc/kubectl"
      version = "2.1.3"
    }
    keycloak = {
      source  = "keycloak/keycloak"
      version = "5.1.1"
    }
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "4.52.0"
    }
  }
}
