# Both Secrets are External Secrets: Terraform declares where each value comes from, the
# operator in the cluster fetches it, and no value ever passes through a variable or the
# state. Generated credentials come from their operators' Secrets (CloudNativePG's owner
# password, Strimzi's SCRAM password and CA); the rest from the operator's store.

locals {
  operator_keys = {
    # A rotation: move the old key to JWT_PREVIOUS_SECRET, a new one to JWT_SECRET. Outside
    # a rotation it stays in the store, empty (api ignores an empty key), so the Secret's
    # keys never change.
    jwt_secret          = ["chatfn/app", "JWT_SECRET"]
    jwt_previous_secret = ["chatfn/app", "JWT_PREVIOUS_SECRET"]
    # Keys API keys' hashes: changing it invalidates every API key, so it is never rotated.
    api_key_hash_secret = ["chatfn/app", "API_KEY_HASH_SECRET"]
    llm_api_key         = ["chatfn/app", "LLM_API_KEY"]
    s3_secret_key       = ["chatfn/app", "S3_SECRET_KEY"]
    redis_password      = ["chatfn/redis", "password"]
  }
  # CloudNativePG's Secret of the database owner.
  postgres_keys = { pg_user = "username", pg_password = "password" }

  # chatfn-secrets, key by key: exactly the secret variables of src/chatfn/settings.py.
  secrets = {
    DATABASE_URL        = "postgresql://{{ .pg_user }}:{{ .pg_password | urlquery }}@${var.postgres_host}/chatfn"
    REDIS_URL           = "redis://:{{ .redis_password | urlquery }}@${var.redis_host}/0"
    JWT_SECRET          = "{{ .jwt_secret }}"
    JWT_PREVIOUS_SECRET = "{{ .jwt_previous_secret }}"
    API_KEY_HASH_SECRET = "{{ .api_key_hash_secret }}"
    LLM_API_KEY         = "{{ .llm_api_key }}"
    S3_ACCESS_KEY       = var.s3_user
    S3_SECRET_KEY       = "{{ .s3_secret_key }}"
  }
}

resource "kubectl_manifest" "secrets" {
  yaml_body = yamlencode({
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ExternalSecret"
    metadata   = { name = "chatfn-secrets", namespace = kubernetes_namespace_v1.chatfn.metadata[0].name }
    spec = {
      refreshInterval = "1h"
      secretStoreRef  = { kind = "ClusterSecretStore", name = var.secret_stores.operator }
      target = {
        name     = "chatfn-secrets"
        template = { engineVersion = "v2", data = local.secrets }
      }
      data = concat(
        [for name, ref in local.operator_keys : { secretKey = name, remoteRef = { key = ref[0], property = ref[1] } }],
        [for name, property in local.postgres_keys : {
          secretKey = name
          sourceRef = { storeRef = { kind = "ClusterSecretStore", name = var.secret_stores.postgres } }
          remoteRef = { key = "chatfn-pg-app", property = property }
        }],
      )
    }
  })
}

# What the Kafka Broker and the dead-letter KafkaSink authenticate with (eventing/ names
# it): Knative's SASL/TLS Secret layout, filled from the KafkaUser `chatfn`.
resource "kubectl_manifest" "kafka_sasl" {
  yaml_body = yamlencode({
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ExternalSecret"
    metadata   = { name = "chatfn-kafka-sasl", namespace = kubernetes_namespace_v1.chatfn.metadata[0].name }
    spec = {
      refreshInterval = "1h"
      secretStoreRef  = { kind = "ClusterSecretStore", name = var.secret_stores.kafka }
      target = {
        name = "chatfn-kafka-sasl"
        template = {
          engineVersion = "v2"
          data = {
            protocol         = "SASL_SSL"
            "sasl.mechanism" = "SCRAM-SHA-512"
            user             = "chatfn"
            password         = "{{ .password }}"
            "ca.crt"         = "{{ .ca }}"
          }
        }
      }
      data = [
        { secretKey = "password", remoteRef = { key = "chatfn", property = "password" } },
        { secretKey = "ca", remoteRef = { key = "chatfn-cluster-ca-cert", property = "ca.crt" } },
      ]
    }
  })
}
