# Metrics, dashboards and alerts (kube-prometheus-stack) and logs (Loki), Grafana reading both.

resource "helm_release" "kube_prometheus_stack" {
  name       = "kube-prometheus-stack"
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "kube-prometheus-stack"
  version    = "76.5.1"
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  depends_on = [kubectl_manifest.operator_secret]

  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        retention = var.prometheus_retention
        # Pick up every ServiceMonitor, PodMonitor and PrometheusRule, not only this chart's.
        serviceMonitorSelectorNilUsesHelmValues = false
        podMonitorSelectorNilUsesHelmValues     = false
        ruleSelectorNilUsesHelmValues           = false
        storageSpec = {
          volumeClaimTemplate = { spec = { accessModes = ["ReadWriteOnce"], resources = { requests = { storage = "${var.prometheus_storage_gi}Gi" } } } }
        }
      }
    }
    grafana = {
      admin                 = { existingSecret = "grafana-admin", userKey = "admin-user", passwordKey = "admin-password" }
      additionalDataSources = [{ name = "Loki", type = "loki", url = "http://loki-gateway.monitoring" }]
    }
  })]
}

resource "helm_release" "loki" {
  name       = "loki"
  repository = "https://grafana.github.io/helm-charts"
  chart      = "loki"
  version    = "6.24.0"
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name

  values = [yamlencode({
    deploymentMode = "SingleBinary"
    loki = {
      auth_enabled = false
      commonConfig = { replication_factor = 1 }
      storage      = { type = "filesystem" }
      schemaConfig = { configs = [{ from = "2024-01-01", store = "tsdb", object_store = "filesystem", schema = "v13", index = { prefix = "index_", period = "24h" } }] }
    }
    singleBinary = { replicas = 1, persistence = { size = "${var.loki_storage_gi}Gi" } }
    # The chart's memcached caches ask for several GiB; one binary does without them.
    chunksCache  = { enabled = false }
    resultsCache = { enabled = false }
    read         = { replicas = 0 }
    write        = { replicas = 0 }
    backend      = { replicas = 0 }
  })]
}
