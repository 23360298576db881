# Knative Serving and Eventing through the Knative Operator; the Kafka Broker, KafkaSink
# and their controller as the operator's additional manifests (the operator itself does
# not ship them). Knative >= 1.15: older Kafka brokers ignore Trigger `filters`.

locals {
  knative_version      = "1.18"
  kafka_broker_release = "https://github.com/knative-extensions/eventing-kafka-broker/releases/download/knative-v1.18.0"
}

resource "helm_release" "knative_operator" {
  name             = "knative-operator"
  repository       = "https://knative.github.io/operator"
  chart            = "knative-operator"
  version          = "v1.18.1"
  namespace        = "knative-operator"
  create_namespace = true
}

resource "kubectl_manifest" "knative_serving" {
  depends_on = [helm_release.knative_operator]
  yaml_body = yamlencode({
    apiVersion = "operator.knative.dev/v1beta1"
    kind       = "KnativeServing"
    metadata   = { name = "knative-serving", namespace = kubernetes_namespace_v1.this["knative-serving"].metadata[0].name }
    spec = {
      version           = local.knative_version
      high-availability = { replicas = var.control_plane_replicas }
      ingress           = { kourier = { enabled = true } }
      config = {
        network = { "ingress-class" = "kourier.ingress.networking.knative.dev" }
        # stream-reply asks for 600 s (a stream then resumes with Last-Event-ID); the
        # maximum stays at Knative's default 600 so no Service can ask for more.
        defaults = {
          "revision-timeout-seconds"     = "300"
          "max-revision-timeout-seconds" = "600"
        }
        # Kubernetes-native knobs the hardened Services use.
        features = {
          "kubernetes.podspec-securitycontext" = "enabled"
          "kubernetes.podspec-emptydir"        = "enabled"
        }
      }
    }
  })
}

resource "kubectl_manifest" "knative_eventing" {
  depends_on = [helm_release.knative_operator]
  yaml_body = yamlencode({
    apiVersion = "operator.knative.dev/v1beta1"
    kind       = "KnativeEventing"
    metadata   = { name = "knative-eventing", namespace = kubernetes_namespace_v1.this["knative-eventing"].metadata[0].name }
    spec = {
      version           = local.knative_version
      high-availability = { replicas = var.control_plane_replicas }
      config = {
        # A Broker with no class annotation is a Kafka Broker.
        "config-br-defaults" = {
          "default-br-config" = yamlencode({
            clusterDefault = { brokerClass = "Kafka", apiVersion = "v1", kind = "ConfigMap", name = "kafka-broker-config", namespace = "knative-eventing" }
          })
        }
        # eventing/oidc/'s EventPolicies are enforced once this is enabled. It stays
        # disabled until the steps in eventing/oidc/README.md are done (api's projected
        # token for the dead-letter sink, an ArgoCD Application for eventing/oidc):
        # enabled before, the sinks would refuse what api sends. NetworkPolicies hold meanwhile.
        "config-features" = { "authentication-oidc" = "disabled" }
      }
      additionalManifests = [
        for file in ["eventing-kafka-controller.yaml", "eventing-kafka-broker.yaml", "eventing-kafka-sink.yaml"] :
        { URL = "${local.kafka_broker_release}/${file}" }
      ]
    }
  })
}
