# production: the same modules as staging, sized for load and failures, following release tags.

locals {
  domain    = "chatfn.example.com"
  cdn_cidrs = concat(data.cloudflare_ip_ranges.cdn.ipv4_cidr_blocks, data.cloudflare_ip_ranges.cdn.ipv6_cidr_blocks)
}

data "cloudflare_ip_ranges" "cdn" {}

data "cloudflare_zone" "cdn" {
  name = "example.com"
}

module "platform" {
  source = "../../modules/platform"

  domain            = local.domain
  cdn_source_ranges = local.cdn_cidrs
  secret_store_provider = {
    vault = {
      server  = "https://vault.example.com"
      path    = "secret"
      version = "v2"
      auth    = { kubernetes = { mountPath = "kubernetes-production", role = "external-secrets" } }
    }
  }

  control_plane_replicas = 2
  kafka_replicas         = 5
  kafka_storage_gi       = 500
  postgres_instances     = 3
  postgres_storage_gi    = 200
  redis_replicas         = 3
  minio_mode             = "distributed"
  minio_replicas         = 4
  minio_storage_gi       = 200
  traefik_replicas       = 3
  prometheus_retention   = "30d"
  prometheus_storage_gi  = 200
  loki_storage_gi        = 200
  argocd_ha              = true
}

module "chatfn" {
  source = "../../modules/chatfn"
  # Its Secrets and Applications are custom resources whose CRDs the platform installs.
  depends_on = [module.platform]

  domain                  = local.domain
  kafka_bootstrap_servers = module.platform.kafka_bootstrap_servers
  postgres_host           = module.platform.postgres_host
  redis_host              = module.platform.redis_host
  s3_endpoint             = module.platform.s3_endpoint
  s3_user                 = module.platform.s3_user
  buckets                 = module.platform.buckets
  keycloak_url            = module.platform.keycloak_url
  secret_stores           = module.platform.secret_stores
  argocd_namespace        = module.platform.argocd_namespace
  cdn_source_ranges       = local.cdn_cidrs
  pod_cidr                = "10.42.0.0/16"

  repo_url     = "https://github.com/chatfn/chatfn.git"
  git_revision = "production" # fast-forwarded to a main commit staging has run (README, Deploy)
  llm_base_url = "http://vllm.models.svc:8000/v1"
  admin_emails = ["ops@example.com"]

  tuning = {
    llm_model              = "Qwen2.5-7B-Instruct"
    llm_routes             = {}
    llm_context_tokens     = 32768
    llm_max_tokens         = 2048
    llm_timeout_s          = 60
    system_prompt          = "You are chatfn, a helpful assistant. Answer clearly; use Markdown when it helps."
    daily_token_budget     = 200000
    access_token_ttl_s     = 900
    refresh_token_ttl_days = 30
    oidc_jwks_ttl_s        = 300
    rate_limit_ip          = "600/minute"
    rate_limit_user        = "300/minute"
    rate_limit_login       = "10/15minutes"
    rate_limit_register    = "20/hour"
    register_timeout_s     = 10
  }
}

module "cdn" {
  source = "../../modules/cdn"

  zone_id         = data.cloudflare_zone.cdn.id
  hostname        = local.domain
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
