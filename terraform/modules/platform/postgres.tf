# PostgreSQL through CloudNativePG. Citus is not available here: CloudNativePG's images
# do not ship it and the operator manages no coordinator/worker topology, so chatfn runs
# on plain PostgreSQL with a Citus-ready schema (rows carry user_id, the distribution key).

resource "helm_release" "cloudnative_pg" {
  name             = "cloudnative-pg"
  repository       = "https://cloudnative-pg.github.io/charts"
  chart            = "cloudnative-pg"
  version          = "0.23.2"
  namespace        = "cnpg-system"
  create_namespace = true
}

# One cluster per database owner: chatfn's (namespace postgres) and Keycloak's.
resource "kubectl_manifest" "postgres" {
  for_each   = { chatfn = { name = local.postgres, namespace = "postgres", size = var.postgres_storage_gi }, keycloak = { name = "keycloak-pg", namespace = "keycloak", size = 5 } }
  depends_on = [helm_release.cloudnative_pg, kubernetes_namespace_v1.this]
  yaml_body = yamlencode({
    apiVersion = "postgresql.cnpg.io/v1"
    kind       = "Cluster"
    metadata   = { name = each.value.name, namespace = each.value.namespace }
    spec = {
      instances = var.postgres_instances
      imageName = "ghcr.io/cloudnative-pg/postgresql:17.2"
      storage   = { size = "${each.value.size}Gi" }
      # CloudNativePG makes the owner's password; its Secret <name>-app is read in-cluster.
      bootstrap             = { initdb = { database = each.key, owner = each.key } }
      enableSuperuserAccess = false
      monitoring            = { enablePodMonitor = true }
    }
  })
}
