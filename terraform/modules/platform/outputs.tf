output "kafka_bootstrap_servers" {
  description = "The TLS listener of Strimzi's bootstrap service."
  value       = "${local.kafka_cluster}-kafka-bootstrap.kafka:9093"
}

output "postgres_host" {
  description = "The read-write service of chatfn's PostgreSQL cluster."
  value       = "${local.postgres}-rw.postgres.svc:5432"
}

output "redis_host" {
  description = "Redis's master, through HAProxy."
  value       = "redis-ha-haproxy.redis.svc:6379"
}

output "s3_endpoint" {
  description = "MinIO's S3 API inside the cluster."
  value       = "http://minio.minio.svc:9000"
}

output "s3_user" {
  description = "The MinIO user chatfn signs in as."
  value       = local.s3_user
}

output "buckets" {
  description = "The attachments bucket (S3_BUCKET) and the web UI's (WEB_BUCKET, the CDN's origin)."
  value       = local.buckets
}

output "keycloak_url" {
  description = "Keycloak's public base URL."
  value       = "https://${local.hosts.keycloak}"
}

output "service_hosts" {
  description = "Add-on hosts browsers reach: Keycloak's (ArgoCD stays private: kubectl port-forward)."
  value       = [local.hosts.keycloak]
}

output "web_origin_host" {
  description = "The host serving the web bucket to the CDN."
  value       = local.hosts.web_origin
}

output "secret_stores" {
  description = "ClusterSecretStore names: the operator's and the in-cluster ones (postgres, kafka)."
  value       = merge({ operator = local.operator_store }, local.cluster_stores)
}

output "argocd_namespace" {
  description = "Where ArgoCD's Applications live."
  value       = helm_release.argocd.namespace
}

output "otlp_endpoint" {
  description = "The OpenTelemetry Collector's OTLP/HTTP base URL: OTEL_EXPORTER_OTLP_ENDPOINT of every function."
  value       = "http://${local.otel_collector}.${helm_release.otel_collector.namespace}:4318"
}
