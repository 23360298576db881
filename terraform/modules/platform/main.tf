# The cluster's add-ons, each a pinned Helm chart (operators) plus the custom resources
# that make them a chatfn platform. Data services live in namespaces of their own so
# their operators' credentials never share a namespace with the functions.

locals {
  hosts = {
    keycloak = "auth.${var.domain}"
    argocd   = "argocd.${var.domain}" # its own links' host, not a public one
    # The CDN's origin for the static UI: MinIO's S3 API behind Traefik, read anonymously
    # for the web bucket only (modules/cdn points its origin rule here).
    web_origin = "web-origin.${var.domain}"
  }
  kafka_cluster = "chatfn"
  postgres      = "chatfn-pg"
}

resource "kubernetes_namespace_v1" "this" {
  for_each = toset(["knative-serving", "knative-eventing", "kafka", "postgres", "redis", "minio", "keycloak", "monitoring"])

  metadata {
    name = each.key
  }
}
