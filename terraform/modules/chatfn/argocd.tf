# ArgoCD deploys what Git says: eventing/ (Broker, Triggers, sinks, policies), knative/
# (the Services through its kustomization, which pins the image by digest; its migration
# Job is a PreSync hook) and edge/ (Traefik routes). Terraform only says where to look.

locals {
  applications = {
    chatfn-eventing = "eventing"
    chatfn-knative  = "knative"
    chatfn-edge     = "edge"
  }
}

resource "kubectl_manifest" "application" {
  for_each   = local.applications
  depends_on = [kubernetes_config_map_v1.config, kubectl_manifest.secrets, kubectl_manifest.kafka_sasl]
  yaml_body = yamlencode({
    apiVersion = "argoproj.io/v1alpha1"
    kind       = "Application"
    metadata   = { name = each.key, namespace = var.argocd_namespace }
    spec = {
      project     = "default"
      source      = { repoURL = var.repo_url, targetRevision = var.git_revision, path = each.value }
      destination = { server = "https://kubernetes.default.svc", namespace = local.namespace }
      syncPolicy = {
        automated = { prune = true, selfHeal = true }
        # Services wait for the Broker's CRDs and Secrets on a first sync: retry, do not fail.
        retry = { limit = 10, backoff = { duration = "10s", factor = 2, maxDuration = "5m" } }
      }
    }
  })
}
