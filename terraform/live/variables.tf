# How to reach things comes from the operator's shell (TF_VAR_...); every choice about an
# environment is a variable below without a default, set in its terraform.tfvars, in Git.

variable "kubeconfig" {
  description = "Path of the kubeconfig that reaches the cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "The kubeconfig context of this environment's cluster: TF_VAR_kube_context."
  type        = string
}

variable "keycloak_admin_user" {
  description = "Keycloak's bootstrap admin (the store's chatfn/keycloak-admin user)."
  type        = string
  default     = "admin"
}

variable "keycloak_admin_password" {
  description = "Keycloak's bootstrap admin password (the store's chatfn/keycloak-admin password): TF_VAR_keycloak_admin_password."
  type        = string
  sensitive   = true
}

variable "cloudflare_api_token" {
  description = "A Cloudflare API token allowed to edit the zone's DNS and rulesets: TF_VAR_cloudflare_api_token."
  type        = string
  sensitive   = true
}

# What differs between the environments: each sets every one in its terraform.tfvars. The
# modules' own variables say more (and validate).

variable "domain" {
  description = "The product's public host (staging.chatfn.example.com); add-ons get subdomains of it."
  type        = string
}

variable "vault_kubernetes_auth_mount" {
  description = "The mount of the environment's Vault Kubernetes auth (kubernetes-<environment>, README Deploy)."
  type        = string
}

variable "pod_cidr" {
  description = "The cluster's pod network, where Traefik, Kourier and the activator forward from."
  type        = string
}

variable "git_revision" {
  description = "The branch ArgoCD follows (staging: main; production: production)."
  type        = string
}

variable "control_plane_replicas" {
  description = "How many of each Knative control-plane component and of Keycloak run."
  type        = number
}

variable "kafka_replicas" {
  description = "How many Kafka nodes run; 3 or more."
  type        = number
}

variable "kafka_storage_gi" {
  description = "GiB of disk each Kafka node gets: events are kept forever."
  type        = number
}

variable "postgres_instances" {
  description = "How many PostgreSQL instances run: a primary and replicas."
  type        = number
}

variable "postgres_storage_gi" {
  description = "GiB of disk each PostgreSQL instance gets."
  type        = number
}

variable "redis_replicas" {
  description = "How many Redis nodes run: a master and replicas."
  type        = number
}

variable "minio_mode" {
  description = "standalone (one MinIO node) or distributed (4 or more)."
  type        = string
}

variable "minio_replicas" {
  description = "How many MinIO nodes run."
  type        = number
}

variable "minio_storage_gi" {
  description = "GiB of disk each MinIO node gets."
  type        = number
}

variable "traefik_replicas" {
  description = "How many Traefik pods serve the load balancer."
  type        = number
}

variable "prometheus_retention" {
  description = "How long metrics are kept, as Prometheus writes it (7d)."
  type        = string
}

variable "prometheus_storage_gi" {
  description = "GiB of disk Prometheus gets."
  type        = number
}

variable "loki_storage_gi" {
  description = "GiB of disk Loki gets."
  type        = number
}

variable "argocd_ha" {
  description = "Whether ArgoCD runs replicated."
  type        = bool
}

variable "llm_model" {
  description = "The model the model server serves (LLM_MODEL)."
  type        = string
}

variable "llm_image_models" {
  description = "The models that read images sent with a message (LLM_IMAGE_MODELS); none by default."
  type        = list(string)
  default     = []
}

variable "llm_context_tokens" {
  description = "The model's context window, tokens (LLM_CONTEXT_TOKENS)."
  type        = number
}

variable "llm_max_tokens" {
  description = "The most tokens one reply may generate (LLM_MAX_TOKENS)."
  type        = number
}

variable "daily_token_budget" {
  description = "Tokens one user may spend per UTC day, 0 for no limit (DAILY_TOKEN_BUDGET)."
  type        = number
}

variable "trace_sample_ratio" {
  description = "The share of chats traced end to end, 0 to 1 (OTEL_TRACES_SAMPLER_ARG)."
  type        = number
}

variable "refresh_token_ttl_days" {
  description = "How long a refresh token lasts, days (REFRESH_TOKEN_TTL_DAYS)."
  type        = number
}
