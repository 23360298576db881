variable "domain" {
  description = "The product's public host: the UI and /api are served there."
  type        = string
}

variable "kafka_bootstrap_servers" {
  description = "Kafka's TLS bootstrap (modules/platform output)."
  type        = string
}

variable "postgres_host" {
  description = "host:port of chatfn's PostgreSQL (modules/platform output)."
  type        = string
}

variable "redis_host" {
  description = "host:port of Redis's master (modules/platform output)."
  type        = string
}

variable "s3_endpoint" {
  description = "MinIO's S3 API (modules/platform output)."
  type        = string
}

variable "s3_user" {
  description = "The MinIO user chatfn signs in as (modules/platform output); its key is in the secret store."
  type        = string
}

variable "buckets" {
  description = "Bucket names: attachments and web (modules/platform output)."
  type        = object({ attachments = string, web = string })
}

variable "keycloak_url" {
  description = "Keycloak's public base URL (modules/platform output)."
  type        = string
}

variable "secret_stores" {
  description = "ClusterSecretStore names: operator, postgres, kafka (modules/platform output)."
  type        = object({ operator = string, postgres = string, kafka = string })
}

variable "argocd_namespace" {
  description = "Where ArgoCD watches Applications (modules/platform output)."
  type        = string
}

variable "repo_url" {
  description = "The Git repository ArgoCD syncs knative/, eventing/ and edge/ from."
  type        = string
}

variable "git_revision" {
  description = "The branch ArgoCD follows (staging: main; production: production)."
  type        = string
}

variable "llm_base_url" {
  description = "The OpenAI-compatible /v1 URL of the model server."
  type        = string
}

variable "cdn_source_ranges" {
  description = "The CDN's egress ranges: the last hop before Traefik, trusted to name the client."
  type        = list(string)
}

variable "pod_cidr" {
  description = "The cluster's pod network, where Traefik, Kourier and the activator forward from."
  type        = string
}

variable "admin_emails" {
  description = "Emails that sign up as admin."
  type        = list(string)
}

variable "tuning" {
  description = "The product's knobs (src/chatfn/settings.py names them): each environment chooses every one."
  type = object({
    llm_model              = string
    llm_routes             = map(string)
    llm_image_models       = list(string) # the models that read images sent with a message
    llm_context_tokens     = number
    llm_max_tokens         = number
    llm_timeout_s          = number
    system_prompt          = string
    daily_token_budget     = number
    access_token_ttl_s     = number
    refresh_token_ttl_days = number
    oidc_jwks_ttl_s        = number
    rate_limit_ip          = string
    rate_limit_user        = string
    rate_limit_per_key     = string
    api_key_store_default  = bool
    attachment_max_bytes   = number # per file sent with a message
    rate_limit_login       = string
    rate_limit_register    = string
    register_timeout_s     = number
    # How long a read waits for its user's own changes to reach the projection.
    projection_wait_s = number
    # Outbound webhooks: a receiver's time to answer, the retries that wait in the request,
    # and the failed attempts in a row that disable an endpoint.
    webhook_timeout_s              = number
    webhook_inline_retry_s         = number
    webhook_disable_after_failures = number
    # Of the traces that start at the edge; a chat is traced whole or not at all.
    trace_sample_ratio        = number
    metric_export_interval_ms = number
  })
}

variable "otlp_endpoint" {
  description = "The OpenTelemetry Collector's OTLP/HTTP URL, where every function pushes traces and metrics (OTEL_EXPORTER_OTLP_ENDPOINT)."
  type        = string
}
