variable "domain" {
  description = "The product's public host (chat.example.com); add-ons get subdomains of it (auth., argocd., web-origin.)."
  type        = string
}

variable "cdn_source_ranges" {
  description = "The CDN's egress ranges: the only peers whose X-Forwarded-For Traefik believes."
  type        = list(string)
}

variable "secret_store_provider" {
  description = "The External Secrets provider block (vault, aws, gcpsm...) of the store holding the operator's secrets; see README Deploy."
  type        = any
}

variable "control_plane_replicas" {
  description = "Replicas of each control-plane component: Knative's (high-availability) and Keycloak."
  type        = number
}

variable "kafka_replicas" {
  description = "Kafka nodes (KRaft, each controller and broker)."
  type        = number

  validation {
    # eventing/ asks for replication factor 3 and min.insync.replicas 2 on the broker's topic.
    condition     = var.kafka_replicas >= 3
    error_message = "eventing/ replicates every topic 3 times: at least 3 Kafka nodes."
  }
}

variable "kafka_storage_gi" {
  description = "Disk per Kafka node, GiB. The broker's topic is kept forever: size for the whole history."
  type        = number
}

variable "postgres_instances" {
  description = "CloudNativePG instances (1 primary + streaming replicas)."
  type        = number
}

variable "postgres_storage_gi" {
  description = "Disk per PostgreSQL instance, GiB."
  type        = number
}

variable "redis_replicas" {
  description = "Redis nodes (one master, the rest replicas, Sentinel on each)."
  type        = number
}

variable "minio_mode" {
  description = "MinIO chart mode: standalone (one node) or distributed (erasure-coded, 4+ nodes)."
  type        = string

  validation {
    condition     = contains(["standalone", "distributed"], var.minio_mode)
    error_message = "minio_mode is standalone or distributed."
  }
}

variable "minio_replicas" {
  description = "MinIO nodes (1 for standalone, 4 or more for distributed)."
  type        = number
}

variable "minio_storage_gi" {
  description = "Disk per MinIO node, GiB."
  type        = number
}

variable "traefik_replicas" {
  description = "Traefik replicas behind the load balancer."
  type        = number
}

variable "prometheus_retention" {
  description = "How long Prometheus keeps samples (Prometheus duration, e.g. 15d)."
  type        = string
}

variable "prometheus_storage_gi" {
  description = "Prometheus disk, GiB."
  type        = number
}

variable "loki_storage_gi" {
  description = "Loki disk, GiB."
  type        = number
}

variable "argocd_ha" {
  description = "Run ArgoCD highly available (replicated server, repo server and redis-ha)."
  type        = bool
}
