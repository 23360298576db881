# production follows the production branch: terraform -chdir=terraform/live init -reconfigure -backend-config=../environments/production/backend.hcl, then terraform -chdir=terraform/live apply -var-file=../environments/production/terraform.tfvars
# The same root as staging, sized for load and failures.

domain                      = "chatfn.example.com"
vault_kubernetes_auth_mount = "kubernetes-production"
pod_cidr                    = "10.42.0.0/16"
git_revision                = "production" # fast-forwarded to a main commit staging has run (README, Deploy)

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

llm_model              = "Qwen2.5-7B-Instruct"
llm_image_models       = []
llm_context_tokens     = 32768
llm_max_tokens         = 2048
daily_token_budget     = 200000
refresh_token_ttl_days = 30
trace_sample_ratio     = 0.1
