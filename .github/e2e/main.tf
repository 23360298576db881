# The release workflow's throwaway environment: the modules terraform/live uses, sized
# for one kind node, with local state, no CDN, and secrets made here. External Secrets' fake
# provider stands in for the operator's store; nothing here outlives the runner.
# Applied in two steps, as an environment is (README, Deploy): -target=module.platform, then
# the rest once Keycloak answers on var.keycloak_url.

terraform {
  required_version = ">= 1.10.0"

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
    random = {
      source  = "hashicorp/random"
      version = "3.6.3"
    }
  }
}

variable "repo_url" {
  description = "The repository ArgoCD syncs from: this one."
  type        = string
}

variable "git_revision" {
  description = "The branch the release pushed with the new digest in knative/kustomization.yaml."
  type        = string
}

variable "keycloak_url" {
  description = "Keycloak as the runner reaches it (a port-forward): auth.<domain> resolves nowhere."
  type        = string
  default     = "http://127.0.0.1:8081"
}

locals {
  kubeconfig   = "~/.kube/config"
  kube_context = "kind-chatfn-e2e" # helm/kind-action's cluster_name, prefixed by kind
  domain       = "chatfn.e2e.test" # .test: reserved, never anyone's real host
  # kind's pod network (modules/chatfn builds TRUSTED_PROXIES from it).
  pod_cidr = "10.244.0.0/16"
  # The keys modules/platform and modules/chatfn read from the operator's store. The fake
  # provider ignores `property`, so every property of a key gets that key's one value.
  store_keys = ["chatfn/app", "chatfn/redis", "chatfn/minio-root", "chatfn/keycloak-admin", "chatfn/grafana-admin"]
}

# Lower-case letters and digits: usable as a user name (Keycloak's, MinIO's) and a password.
resource "random_string" "store" {
  for_each = toset(local.store_keys)
  length   = 32
  upper    = false
  special  = false
}

provider "kubernetes" {
  config_path    = local.kubeconfig
  config_context = local.kube_context
}

provider "helm" {
  kubernetes {
    config_path    = local.kubeconfig
    config_context = local.kube_context
  }
}

provider "kubectl" {
  config_path      = local.kubeconfig
  config_context   = local.kube_context
  load_config_file = true
}

provider "keycloak" {
  url           = var.keycloak_url
  realm         = "master"
  client_id     = "admin-cli"
  username      = random_string.store["chatfn/keycloak-admin"].result
  password      = random_string.store["chatfn/keycloak-admin"].result
  initial_login = false
}

module "platform" {
  source = "../../terraform/modules/platform"

  domain            = local.domain
  cdn_source_ranges = [] # no CDN: nobody's X-Forwarded-For is believed
  secret_store_provider = {
    fake = { data = [for key in local.store_keys : { key = key, value = random_string.store[key].result }] }
  }

  control_plane_replicas = 1
  kafka_replicas         = 3 # the least eventing/'s replication factor allows
  kafka_storage_gi       = 2
  postgres_instances     = 1
  postgres_storage_gi    = 1
  redis_replicas         = 1
  minio_mode             = "standalone"
  minio_replicas         = 1
  minio_storage_gi       = 1
  traefik_replicas       = 1
  prometheus_retention   = "1d"
  prometheus_storage_gi  = 1
  loki_storage_gi        = 1
  argocd_ha              = false
}

module "chatfn" {
  source = "../../terraform/modules/chatfn"

  domain                  = local.domain
  kafka_bootstrap_servers = module.platform.kafka_bootstrap_servers
  postgres_host           = module.platform.postgres_host
  redis_host              = module.platform.redis_host
  s3_endpoint             = module.platform.s3_endpoint
  s3_user                 = module.platform.s3_user
  buckets                 = module.platform.buckets
  keycloak_url            = module.platform.keycloak_url
  otlp_endpoint           = module.platform.otlp_endpoint
  secret_stores           = module.platform.secret_stores
  argocd_namespace        = module.platform.argocd_namespace
  cdn_source_ranges       = []
  pod_cidr                = local.pod_cidr

  repo_url     = var.repo_url
  git_revision = var.git_revision
  # No model server in kind: every reply ends in an `error` event, which smoke.py accepts.
  llm_base_url = "http://no-model.invalid/v1"
  admin_emails = []

  tuning = {
    llm_model              = "none"
    llm_routes             = {}
    llm_image_models       = []
    llm_context_tokens     = 2048
    llm_max_tokens         = 64
    llm_timeout_s          = 10
    system_prompt          = "You are chatfn's end-to-end test."
    daily_token_budget     = 0
    access_token_ttl_s     = 900
    refresh_token_ttl_days = 1
    oidc_jwks_ttl_s        = 300
    rate_limit_ip          = "600/minute"
    rate_limit_user        = "300/minute"
    rate_limit_per_key     = "60/minute"
    api_key_store_default  = false
    attachment_max_bytes   = 1048576
    rate_limit_login       = "10/15minutes"
    rate_limit_register    = "20/hour"
    register_timeout_s     = 10
    projection_wait_s      = 5
    webhook_timeout_s              = 15
    webhook_inline_retry_s         = 10
    webhook_disable_after_failures = 20
    # Every chat traced: the smoke checks may want to look.
    trace_sample_ratio        = 1
    metric_export_interval_ms = 15000
  }
}
