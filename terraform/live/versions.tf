terraform {
  required_version = ">= 1.10.0"

  # Remote state, locked with S3's own conditional writes (use_lockfile, Terraform >= 1.10).
  # The state holds no secret value: every secret reaches the cluster through External Secrets.
  # Where each environment's state lives is its backend.hcl (init -backend-config); encryption
  # and locking are here so that no environment can go without them.
  backend "s3" {
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
