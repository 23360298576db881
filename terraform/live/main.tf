# The one root every environment applies: what they share is here, what differs is a
# variable each environment's terraform.tfvars sets (README, Deploy).

locals {
  cdn_cidrs = concat(data.cloudflare_ip_ranges.cdn.ipv4_cidr_blocks, data.cloudflare_ip_ranges.cdn.ipv6_cidr_blocks)
}

data "cloudflare_ip_ranges" "cdn" {}

data "cloudflare_zone" "cdn" {
  name = "example.com"
}

module "platform" {
  source = "../modules/platform"

  domain            = var.domain
  cdn_source_ranges = local.cdn_cidrs
  secret_store_provider = {
    vault = {
      server  = "https://vault.example.com"
      path    = "secret"
      version = "v2"
      auth    = { kubernetes = { mountPath = var.vault_kubernetes_auth_mount, role = "external-secrets" } }
    }
  }

  control_plane_replicas = var.control_plane_replicas
  kafka_replicas         = var.kafka_replicas
  kafka_storage_gi       = var.kafka_storage_gi
  postgres_instances     = var.postgres_instances
  postgres_storage_gi    = var.postgres_storage_gi
  redis_replicas         = var.redis_replicas
  minio_mode             = var.minio_mode
  minio_replicas         = var.minio_replicas
  minio_storage_gi       = var.minio_storage_gi
  traefik_replicas       = var.traefik_replicas
  prometheus_retention   = var.prometheus_retention
  prometheus_storage_gi  = var.prometheus_storage_gi
  loki_storage_gi        = var.loki_storage_gi
  argocd_ha              = var.argocd_ha
}

module "chatfn" {
  source = "../modules/chatfn"
  # Its Secrets and Applications are custom resources whose CRDs the platform installs.
  depends_on = [module.platform]

  domain                  = var.domain
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
  cdn_source_ranges       = local.cdn_cidrs
  pod_cidr                = var.pod_cidr

  repo_url     = "https://github.com/chatfn/chatfn.git"
  git_revision = var.git_revision
  llm_base_url = "http://vllm.models.svc:8000/v1"
  admin_emails = ["ops@example.com"]

  tuning = {
    llm_model                      = var.llm_model
    llm_routes                     = {}
    llm_image_models               = var.llm_image_models
    llm_context_tokens             = var.llm_context_tokens
    llm_max_tokens                 = var.llm_max_tokens
    llm_timeout_s                  = 60
    system_prompt                  = "You are chatfn, a helpful assistant. Answer clearly; use Markdown when it helps."
    daily_token_budget             = var.daily_token_budget
    access_token_ttl_s             = 900
    refresh_token_ttl_days         = var.refresh_token_ttl_days
    oidc_jwks_ttl_s                = 300
    rate_limit_ip                  = "600/minute"
    rate_limit_user                = "300/minute"
    rate_limit_per_key             = "60/minute"
    api_key_store_default          = false
    attachment_max_bytes           = 20 * 1024 * 1024
    rate_limit_login               = "10/15minutes"
    rate_limit_register            = "20/hour"
    register_timeout_s             = 10
    projection_wait_s              = 5
    webhook_timeout_s              = 15
    webhook_inline_retry_s         = 10
    webhook_disable_after_failures = 20
    # Pushed every 15 s: a pod scaled to zero flushes its last counts at SIGTERM.
    trace_sample_ratio        = var.trace_sample_ratio
    metric_export_interval_ms = 15000
  }
}

module "cdn" {
  source = "../modules/cdn"

  zone_id         = data.cloudflare_zone.cdn.id
  hostname        = var.domain
  origin_address  = data.kubernetes_service_v1.traefik.status[0].load_balancer[0].ingress[0].ip
  web_origin_host = module.platform.web_origin_host
  service_hosts   = module.platform.service_hosts
  web_bucket      = module.platform.buckets.web
}

# Traefik's load balancer address, known once module.platform is applied.
data "kubernetes_service_v1" "traefik" {
  metadata {
    name      = "traefik"
    namespace = "traefik"
  }
  depends_on = [module.platform]
}

output "url" {
  value = module.cdn.url
}

output "oidc_issuer" {
  value = module.chatfn.oidc_issuer
}
