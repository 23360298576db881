# staging follows main: terraform -chdir=terraform/live init -reconfigure -backend-config=../environments/staging/backend.hcl, then terraform -chdir=terraform/live apply -var-file=../environments/staging/terraform.tfvars
# The same root as production, smaller.

domain                      = "staging.chatfn.example.com"
vault_kubernetes_auth_mount = "kubernetes-staging"
pod_cidr                    = "10.244.0.0/16"
git_revision                = "main"

control_plane_replicas = 1
kafka_replicas         = 3
kafka_storage_gi       = 20
postgres_instances     = 1
postgres_storage_gi    = 10
redis_replicas         = 1
minio_mode             = "standalone"
minio_replicas         = 1
minio_storage_gi       = 20
traefik_replicas       = 1
prometheus_retention   = "7d"
prometheus_storage_gi  = 20
loki_storage_gi        = 20
argocd_ha              = false

llm_model              = "Qwen2.5-1.5B-Instruct"
llm_image_models       = []
llm_context_tokens     = 8192
llm_max_tokens         = 512
daily_token_budget     = 50000
refresh_token_ttl_days = 7
trace_sample_ratio     = 1.0
