# Metrics, dashboards and alerts (kube-prometheus-stack), logs (Loki), traces (Tempo), Grafana
# reading all three, and the OpenTelemetry Collector the functions push to. Functions push
# rather than being scraped: a pod scaled to zero may be gone before any scrape, so each
# process exports every 15 s and on SIGTERM, and Prometheus scrapes the collector.
# Dashboards and alerts are the repository's observability/ files, read here unchanged.

locals {
  observability = "${path.module}/../../../observability"
  # The collector's Service name, in every pod's OTEL_EXPORTER_OTLP_ENDPOINT (outputs.tf).
  otel_collector = "otel-collector"
}

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
      admin = { existingSecret = "grafana-admin", userKey = "admin-user", passwordKey = "admin-password" }
      # The chart's defaults, spelled out because the dashboards below rely on them: the
      # sidecar loads every ConfigMap labelled grafana_dashboard="1".
      sidecar = { dashboards = { enabled = true, label = "grafana_dashboard", labelValue = "1" } }
      additionalDataSources = [
        { name = "Loki", type = "loki", url = "http://loki-gateway.monitoring" },
        { name = "Tempo", type = "tempo", uid = "tempo", url = "http://tempo.monitoring:3200" },
      ]
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

# Traces: Tempo as one binary on a small disk, fed by the collector over OTLP/gRPC. The
# chart moved from grafana/helm-charts (last release 1.24.4) to grafana-community's.
resource "helm_release" "tempo" {
  name       = "tempo"
  repository = "https://grafana-community.github.io/helm-charts"
  chart      = "tempo"
  version    = "2.2.4"
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name

  values = [yamlencode({
    tempo = {
      retention        = "72h"
      reportingEnabled = false
      resources        = { requests = { cpu = "100m", memory = "256Mi" }, limits = { memory = "1Gi" } }
    }
    persistence = { enabled = true, size = "10Gi" }
  })]
}

# The OTLP/HTTP endpoint every function pushes its spans and metrics to.
resource "helm_release" "otel_collector" {
  name       = "otel-collector"
  repository = "https://open-telemetry.github.io/opentelemetry-helm-charts"
  chart      = "opentelemetry-collector"
  version    = "0.170.0"
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  # Its ServiceMonitor is a kube-prometheus-stack CRD; its traces go to Tempo.
  depends_on = [helm_release.kube_prometheus_stack, helm_release.tempo]

  values = [yamlencode({
    fullnameOverride = local.otel_collector
    mode             = "deployment"
    # contrib: the core image has no prometheus exporter.
    image     = { repository = "otel/opentelemetry-collector-contrib" }
    resources = { requests = { cpu = "100m", memory = "256Mi" }, limits = { memory = "512Mi" } }
    ports = {
      otlp             = { enabled = false }
      "otlp-http"      = { enabled = true }
      "jaeger-compact" = { enabled = false }
      "jaeger-thrift"  = { enabled = false }
      "jaeger-grpc"    = { enabled = false }
      zipkin           = { enabled = false }
      metrics          = { enabled = true } # the collector's own (dropped data, queue sizes)
      prometheus       = { enabled = true, containerPort = 8889, servicePort = 8889, protocol = "TCP" }
    }
    # Merged into the chart's config; null removes a default.
    config = {
      receivers = {
        jaeger     = null
        zipkin     = null
        prometheus = null
        otlp       = { protocols = { grpc = null, http = { endpoint = "$${env:MY_POD_IP}:4318" } } }
      }
      exporters = {
        debug = null
        # Series named as Prometheus names OpenTelemetry's (chatfn_replies_total...); a pod's
        # series go 5 min (metric_expiration's default) after its last push.
        prometheus        = { endpoint = "$${env:MY_POD_IP}:8889" }
        "otlp_grpc/tempo" = { endpoint = "tempo.monitoring:4317", tls = { insecure = true } }
      }
      service = {
        pipelines = {
          logs    = null
          metrics = { receivers = ["otlp"], processors = ["memory_limiter", "batch"], exporters = ["prometheus"] }
          traces  = { receivers = ["otlp"], processors = ["memory_limiter", "batch"], exporters = ["otlp_grpc/tempo"] }
        }
      }
    }
    serviceMonitor = {
      enabled = true
      metricsEndpoints = [
        { port = "metrics" },
        # job and instance stay the pushing process's (service.name, service.instance.id).
        { port = "prometheus", honorLabels = true },
      ]
    }
  })]
}

resource "kubectl_manifest" "chatfn_rules" {
  depends_on = [helm_release.kube_prometheus_stack]
  yaml_body = yamlencode({
    apiVersion = "monitoring.coreos.com/v1"
    kind       = "PrometheusRule"
    metadata   = { name = "chatfn", namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name }
    spec       = yamldecode(file("${local.observability}/rules/chatfn.rules.yaml"))
  })
}

resource "kubernetes_config_map_v1" "dashboards" {
  for_each = fileset("${local.observability}/dashboards", "*.json")

  metadata {
    name      = "chatfn-dashboard-${trimsuffix(each.key, ".json")}"
    namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
    labels    = { grafana_dashboard = "1" }
  }
  data = { (each.key) = file("${local.observability}/dashboards/${each.key}") }
}

locals {
  # The pods Prometheus scrapes for metrics of their own: Knative's (1.18: Prometheus on
  # :9090 by default), by the container port names of Knative Serving's, Eventing's and
  # eventing-kafka-broker's release manifests, and Strimzi's Kafka Exporter.
  # (The functions' queue-proxies are not scraped: eventing/'s NetworkPolicies admit only
  # Knative into namespace chatfn, and the functions push their own metrics.)
  pod_monitors = {
    knative-serving = {
      namespace = "knative-serving"
      selector  = { matchExpressions = [{ key = "app", operator = "In", values = ["activator", "autoscaler", "controller", "webhook"] }] }
      port      = "metrics"
    }
    knative-eventing = {
      namespace = "knative-eventing"
      selector  = { matchExpressions = [{ key = "app", operator = "In", values = ["eventing-controller", "eventing-webhook", "kafka-controller", "kafka-webhook-eventing"] }] }
      port      = "metrics"
    }
    # The Kafka Broker's data plane: ingress (receiver) and Trigger deliveries (dispatcher).
    kafka-broker-data-plane = {
      namespace = "knative-eventing"
      selector  = { matchExpressions = [{ key = "app", operator = "In", values = ["kafka-broker-receiver", "kafka-broker-dispatcher"] }] }
      port      = "http-metrics"
    }
    # Strimzi makes no PodMonitor for its Kafka Exporter (consumer lag, topic offsets),
    # which serves /metrics on the port it names tcp-prometheus.
    kafka-exporter = {
      namespace = "kafka"
      selector  = { matchLabels = { "strimzi.io/cluster" = local.kafka_cluster, "strimzi.io/component-type" = "kafka-exporter" } }
      port      = "tcp-prometheus"
    }
  }
}

resource "kubectl_manifest" "pod_monitors" {
  for_each   = local.pod_monitors
  depends_on = [helm_release.kube_prometheus_stack]
  yaml_body = yamlencode({
    apiVersion = "monitoring.coreos.com/v1"
    kind       = "PodMonitor"
    metadata   = { name = each.key, namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name }
    spec = {
      namespaceSelector   = { matchNames = [each.value.namespace] }
      selector            = each.value.selector
      podMetricsEndpoints = [{ port = each.value.port, path = "/metrics" }]
    }
  })
}
