# ArgoCD syncs knative/, eventing/ and edge/ from Git (modules/chatfn declares the
# Applications). TLS ends at Traefik, so the server speaks plain HTTP behind it.

resource "helm_release" "argocd" {
  name             = "argocd"
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = "7.8.22"
  namespace        = "argocd"
  create_namespace = true

  values = [yamlencode({
    global  = { domain = local.hosts.argocd }
    configs = { params = { "server.insecure" = true } }
    server = {
      replicas = var.argocd_ha ? 2 : 1
      # Not public: operators reach it with `kubectl port-forward` (README, Deploy).
      ingress = { enabled = false }
    }
    repoServer = { replicas = var.argocd_ha ? 2 : 1 }
    redis-ha   = { enabled = var.argocd_ha }
  })]
}
