# chatfn's own footing in the cluster: its namespace, its configuration (ConfigMap
# chatfn-config, Secrets chatfn-secrets and chatfn-kafka-sasl), its Keycloak realm, and
# the ArgoCD Applications that deploy knative/, eventing/ and edge/ from Git.

locals {
  namespace = "chatfn"
  audience  = "chatfn-api"

  # TRUSTED_PROXIES: every hop edge/trusted-proxies.yaml names, its pod network (kind's)
  # replaced by this cluster's, then the CDN's ranges in front of Traefik.
  edge_pod_cidr = "10.244.0.0/16"
  trusted_proxies = concat(
    [for hop in yamldecode(file("${path.module}/../../../edge/trusted-proxies.yaml")) : hop == local.edge_pod_cidr ? var.pod_cidr : hop],
    var.cdn_source_ranges,
  )

  # Every non-secret setting of src/chatfn/settings.py, by its variable name. Left out on
  # purpose: CHATFN_HOME, CHATFN_PORT, CHATFN_EVENTING_DIR and CHATFN_WEB_DIR (the local
  # stack's), K_SINK (the SinkBinding sets it per pod), and what knative/ sets in its own
  # manifests: FUNCTION_TARGET, CHATFN_MODE, DEAD_LETTER_SINK (api's, the KafkaSink's address).
  config = {
    KAFKA_BOOTSTRAP_SERVERS = var.kafka_bootstrap_servers
    S3_ENDPOINT             = var.s3_endpoint
    S3_BUCKET               = var.buckets.attachments
    WEB_BUCKET              = var.buckets.web
    LLM_BASE_URL            = var.llm_base_url
    LLM_MODEL               = var.tuning.llm_model
    LLM_ROUTES              = join(",", [for model, url in var.tuning.llm_routes : "${model}=${url}"])
    LLM_IMAGE_MODELS        = join(",", var.tuning.llm_image_models)
    LLM_CONTEXT_TOKENS      = tostring(var.tuning.llm_context_tokens)
    LLM_MAX_TOKENS          = tostring(var.tuning.llm_max_tokens)
    LLM_TIMEOUT_S           = tostring(var.tuning.llm_timeout_s)
    SYSTEM_PROMPT           = var.tuning.system_prompt
    DAILY_TOKEN_BUDGET      = tostring(var.tuning.daily_token_budget)
    REDIS_PREFIX            = "chatfn"
    JWT_ISSUER              = "chatfn"
    JWT_AUDIENCE            = local.audience
    ACCESS_TOKEN_TTL_S      = tostring(var.tuning.access_token_ttl_s)
    REFRESH_TOKEN_TTL_DAYS  = tostring(var.tuning.refresh_token_ttl_days)
    ADMIN_EMAILS            = join(",", var.admin_emails)
    OIDC_ISSUER             = local.oidc_issuer
    OIDC_AUDIENCE           = keycloak_openid_audience_protocol_mapper.api.included_custom_audience
    OIDC_JWKS_TTL_S         = tostring(var.tuning.oidc_jwks_ttl_s)
    RATE_LIMIT_IP           = var.tuning.rate_limit_ip
    RATE_LIMIT_USER         = var.tuning.rate_limit_user
    RATE_LIMIT_LOGIN        = var.tuning.rate_limit_login
    RATE_LIMIT_REGISTER     = var.tuning.rate_limit_register
    RATE_LIMIT_PER_KEY      = var.tuning.rate_limit_per_key
    API_KEY_STORE_DEFAULT   = tostring(var.tuning.api_key_store_default)
    ATTACHMENT_MAX_BYTES    = tostring(var.tuning.attachment_max_bytes)
    TRUSTED_PROXIES         = join(",", local.trusted_proxies)
    REGISTER_TIMEOUT_S      = tostring(var.tuning.register_timeout_s)
    PROJECTION_WAIT_S       = tostring(var.tuning.projection_wait_s)
    # Outbound webhooks: no private network is exempted in a cluster.
    WEBHOOK_ALLOWED_NETWORKS       = ""
    WEBHOOK_TIMEOUT_S              = tostring(var.tuning.webhook_timeout_s)
    WEBHOOK_INLINE_RETRY_S         = tostring(var.tuning.webhook_inline_retry_s)
    WEBHOOK_DISABLE_AFTER_FAILURES = tostring(var.tuning.webhook_disable_after_failures)
    # Traces and metrics are pushed to the platform's collector (chatfn.telemetry).
    OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint
    OTEL_METRIC_EXPORT_INTERVAL = tostring(var.tuning.metric_export_interval_ms)
    OTEL_TRACES_SAMPLER_ARG     = tostring(var.tuning.trace_sample_ratio)
  }
}

resource "kubernetes_namespace_v1" "chatfn" {
  metadata {
    name = local.namespace
  }
  # eventing/100-namespace.yaml declares it too (ArgoCD applies it): Terraform makes it
  # first so the configuration exists before any function starts, then leaves it alone.
  lifecycle {
    ignore_changes = [metadata[0].labels, metadata[0].annotations]
  }
}

resource "kubernetes_config_map_v1" "config" {
  metadata {
    name      = "chatfn-config"
    namespace = kubernetes_namespace_v1.chatfn.metadata[0].name
  }
  data = local.config
}
