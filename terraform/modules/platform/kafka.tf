# Strimzi Kafka in KRaft mode, reachable only over TLS with SCRAM-SHA-512. The user
# `chatfn` (the Kafka Broker's data plane) gets its password from Strimzi; the chatfn
# module copies it into `chatfn-kafka-sasl` through External Secrets, never through state.

resource "helm_release" "strimzi" {
  name       = "strimzi"
  repository = "https://strimzi.io/charts/"
  chart      = "strimzi-kafka-operator"
  version    = "0.45.0"
  namespace  = kubernetes_namespace_v1.this["kafka"].metadata[0].name
}

resource "kubectl_manifest" "kafka_nodes" {
  depends_on = [helm_release.strimzi]
  yaml_body = yamlencode({
    apiVersion = "kafka.strimzi.io/v1beta2"
    kind       = "KafkaNodePool"
    metadata   = { name = "nodes", namespace = "kafka", labels = { "strimzi.io/cluster" = local.kafka_cluster } }
    spec = {
      replicas = var.kafka_replicas
      roles    = ["controller", "broker"]
      storage = {
        type    = "jbod"
        volumes = [{ id = 0, type = "persistent-claim", size = "${var.kafka_storage_gi}Gi", deleteClaim = false, kraftMetadata = "shared" }]
      }
    }
  })
}

resource "kubectl_manifest" "kafka" {
  depends_on = [kubectl_manifest.kafka_nodes]
  yaml_body = yamlencode({
    apiVersion = "kafka.strimzi.io/v1beta2"
    kind       = "Kafka"
    metadata = {
      name        = local.kafka_cluster
      namespace   = "kafka"
      annotations = { "strimzi.io/node-pools" = "enabled", "strimzi.io/kraft" = "enabled" }
    }
    spec = {
      kafka = {
        version = "3.9.0"
        # The only listener: TLS, SCRAM-SHA-512 (the bootstrap is chatfn-kafka-bootstrap.kafka:9093).
        listeners     = [{ name = "tls", port = 9093, type = "internal", tls = true, authentication = { type = "scram-sha-512" } }]
        authorization = { type = "simple" }
        config = {
          "default.replication.factor" = 3
          "min.insync.replicas"        = 2
          # Kept forever unless a topic says otherwise: the broker's topic is the log of
          # record (eventing/ sets that on it too), and a KafkaSink cannot set its topic's
          # config, so without this dead letters would expire after a week, unreplayed.
          "log.retention.ms"                         = -1
          "offsets.topic.replication.factor"         = 3
          "transaction.state.log.replication.factor" = 3
          "transaction.state.log.min.isr"            = 2
          # Topics are made by the Kafka Broker and KafkaSink (eventing/), not by clients.
          "auto.create.topics.enable" = false
        }
      }
      entityOperator = { topicOperator = {}, userOperator = {} }
      # Consumer lag and topic offsets (kafka_consumergroup_lag, kafka_topic_partition_current_offset)
      # for the chat-path dashboard and the lag and dead-letter alerts (observability/). Only
      # Knative's topics and consumer groups: they are all named knative-...
      kafkaExporter = { topicRegex = "knative-.*", groupRegex = "knative-.*" }
    }
  })
}

resource "kubectl_manifest" "kafka_user" {
  depends_on = [kubectl_manifest.kafka]
  yaml_body = yamlencode({
    apiVersion = "kafka.strimzi.io/v1beta2"
    kind       = "KafkaUser"
    metadata   = { name = "chatfn", namespace = "kafka", labels = { "strimzi.io/cluster" = local.kafka_cluster } }
    spec = {
      authentication = { type = "scram-sha-512" }
      # Knative's topics and consumer groups are all named knative-...
      authorization = {
        type = "simple"
        acls = [
          { resource = { type = "topic", name = "knative-", patternType = "prefix" }, operations = ["All"] },
          { resource = { type = "group", name = "knative-", patternType = "prefix" }, operations = ["All"] },
          { resource = { type = "cluster" }, operations = ["Describe", "DescribeConfigs"] },
        ]
      }
    }
  })
}
