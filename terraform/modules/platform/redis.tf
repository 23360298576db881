# Redis with Sentinel failover; clients reach the master through the chart's HAProxy
# (redis-ha-haproxy.redis:6379). Its password comes from the operator's secret store.

resource "helm_release" "redis" {
  name       = "redis-ha"
  repository = "https://dandydeveloper.github.io/charts"
  chart      = "redis-ha"
  version    = "4.33.7"
  namespace  = kubernetes_namespace_v1.this["redis"].metadata[0].name
  depends_on = [kubectl_manifest.operator_secret]

  values = [yamlencode({
    replicas         = var.redis_replicas
    auth             = true
    existingSecret   = "redis-auth"
    authKey          = "password"
    haproxy          = { enabled = true, replicas = 2 }
    sentinel         = { quorum = floor(var.redis_replicas / 2) + 1 }
    persistentVolume = { enabled = true, size = "8Gi" }
    redis = {
      # Reply streams, rate limits and sign-up handoffs: keep them across restarts.
      config = { appendonly = "yes", appendfsync = "everysec" }
    }
  })]
}
