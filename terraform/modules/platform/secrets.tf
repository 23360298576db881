# Secrets reach the cluster through External Secrets, so no secret value is ever in a
# Terraform variable or in state: the operator's store (Vault, a cloud secret manager...)
# holds what people choose, and the cluster's own stores hand over what operators generate
# (CloudNativePG's and Strimzi's passwords). Layout of the operator's store: README, Deploy.

resource "helm_release" "external_secrets" {
  name             = "external-secrets"
  repository       = "https://charts.external-secrets.io"
  chart            = "external-secrets"
  version          = "0.15.0"
  namespace        = "external-secrets"
  create_namespace = true
  values           = [yamlencode({ installCRDs = true })]
}

resource "kubectl_manifest" "operator_store" {
  depends_on = [helm_release.external_secrets]
  yaml_body = yamlencode({
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ClusterSecretStore"
    metadata   = { name = local.operator_store }
    spec       = { provider = var.secret_store_provider }
  })
}

locals {
  operator_store = "chatfn-operator"
  # Generated credentials, read where their operator wrote them.
  cluster_stores = { postgres = "chatfn-postgres", kafka = "chatfn-kafka" }

  # The add-ons' own credentials: Secret => namespace and key => [store key, property].
  operator_secrets = {
    redis-auth     = { namespace = "redis", data = { password = ["chatfn/redis", "password"] } }
    minio-root     = { namespace = "minio", data = { rootUser = ["chatfn/minio-root", "user"], rootPassword = ["chatfn/minio-root", "password"] } }
    minio-chatfn   = { namespace = "minio", data = { secretKey = ["chatfn/app", "S3_SECRET_KEY"] } }
    keycloak-admin = { namespace = "keycloak", data = { username = ["chatfn/keycloak-admin", "user"], password = ["chatfn/keycloak-admin", "password"] } }
    grafana-admin  = { namespace = "monitoring", data = { admin-user = ["chatfn/grafana-admin", "user"], admin-password = ["chatfn/grafana-admin", "password"] } }
  }
}

resource "kubectl_manifest" "operator_secret" {
  for_each   = local.operator_secrets
  depends_on = [kubectl_manifest.operator_store, kubernetes_namespace_v1.this]
  yaml_body = yamlencode({
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ExternalSecret"
    metadata   = { name = each.key, namespace = each.value.namespace }
    spec = {
      refreshInterval = "1h"
      secretStoreRef  = { kind = "ClusterSecretStore", name = local.operator_store }
      target          = { name = each.key }
      data            = [for key, ref in each.value.data : { secretKey = key, remoteRef = { key = ref[0], property = ref[1] } }]
    }
  })
}

# In-cluster stores: External Secrets reads one namespace's Secrets with a token of its
# own service account, allowed only `get` there.
resource "kubernetes_service_account_v1" "reader" {
  depends_on = [helm_release.external_secrets]
  metadata {
    name      = "chatfn-secret-reader"
    namespace = "external-secrets"
  }
}

resource "kubernetes_role_v1" "reader" {
  for_each = local.cluster_stores
  metadata {
    name      = "chatfn-secret-reader"
    namespace = kubernetes_namespace_v1.this[each.key].metadata[0].name
  }
  rule {
    api_groups = [""]
    resources  = ["secrets"]
    verbs      = ["get", "list", "watch"]
  }
  rule {
    api_groups = ["authorization.k8s.io"]
    resources  = ["selfsubjectrulesreviews"]
    verbs      = ["create"]
  }
}

resource "kubernetes_role_binding_v1" "reader" {
  for_each = local.cluster_stores
  metadata {
    name      = "chatfn-secret-reader"
    namespace = each.key
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.reader[each.key].metadata[0].name
  }
  subject {
    kind      = "ServiceAccount"
    name      = kubernetes_service_account_v1.reader.metadata[0].name
    namespace = "external-secrets"
  }
}

resource "kubectl_manifest" "cluster_store" {
  for_each   = local.cluster_stores
  depends_on = [kubernetes_role_binding_v1.reader]
  yaml_body = yamlencode({
    apiVersion = "external-secrets.io/v1beta1"
    kind       = "ClusterSecretStore"
    metadata   = { name = each.value }
    spec = {
      provider = {
        kubernetes = {
          remoteNamespace = each.key
          server = {
            url        = "https://kubernetes.default.svc"
            caProvider = { type = "ConfigMap", name = "kube-root-ca.crt", key = "ca.crt", namespace = "external-secrets" }
          }
          auth = { serviceAccount = { name = kubernetes_service_account_v1.reader.metadata[0].name, namespace = "external-secrets" } }
        }
      }
    }
  })
}
